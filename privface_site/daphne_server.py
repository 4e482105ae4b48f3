"""Daphne with a larger request buffer: `python -m privface_site.daphne_server` takes
Daphne's own flags.

Daphne hands a request body to the app in pieces of `request_buffer_size` bytes (8 KiB
by default, and its CLI has no flag for it): an 8 MiB upload chunk became 1,024 ASGI
messages. 1 MiB pieces cut that per-message overhead (bench/upload_throughput.py).
"""

import sys

from daphne.cli import CommandLineInterface
from daphne.server import Server

REQUEST_BUFFER_SIZE = 1 << 20


class BigBufferServer(Server):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("request_buffer_size", REQUEST_BUFFER_SIZE)
        super().__init__(*args, **kwargs)


class BigBufferCLI(CommandLineInterface):
    server_class = BigBufferServer


if __name__ == "__main__":
    BigBufferCLI().run(sys.argv[1:])
