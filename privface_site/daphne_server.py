"""Daphne with bounded request bodies: `python -m privface_site.daphne_server` takes
Daphne's own flags.

- Larger body pieces: Daphne hands a request body to the app in pieces of
  `request_buffer_size` bytes (8 KiB by default, and its CLI has no flag for it): an 8 MiB
  upload chunk became 1,024 ASGI messages. 1 MiB pieces cut that per-message overhead
  (bench/upload_throughput.py).
- Refused from the headers: Twisted receives a whole body (to a temporary file) before
  Daphne runs the app, so a 1 GiB anonymous PUT was read in full before its 401. Here the
  request is judged (privface_site.limits.refusal) as soon as its headers are in: over the
  route's limit is 413, a large body without credentials 401, and the connection is closed
  without reading the body. Chunked bodies are counted as they arrive.
- Paced bodies: Daphne then pushed every piece of an accepted body into the app's queue at
  once (a 64 MiB chunk was 64 MiB of memory, per request). Here a piece is queued only when
  the app has taken the one before, so memory stays at a few pieces per request.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
import time
from urllib.parse import unquote

import daphne.server
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server

REQUEST_BUFFER_SIZE = 1 << 20
QUEUED_PIECES = 2
# After a refusal the connection is closed once the client had time to read the answer: a
# client that sends its body without waiting would otherwise meet a reset that destroys
# the answer in its receive buffer. Meanwhile at most LINGER_BYTES are read (and dropped).
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 << 20


class _Discard:
    """Where the body of a refused request goes: nowhere."""

    closed = False

    def write(self, data: bytes) -> None:
        pass

    def seek(self, *args) -> int:
        return 0

    def read(self, *args) -> bytes:
        return b""

    def close(self) -> None:
        self.closed = True


class GuardedRequest(WebRequest):
    refused = False
    body_limit = 0
    body_received = 0
    discarded = 0

    def gotLength(self, length):
        from . import limits

        target = getattr(self.channel, "_path", b"/").split(b"?", 1)[0]
        method = getattr(self.channel, "_command", b"GET").decode("latin-1")
        path = unquote(target.decode("latin-1"))
        headers = {name.lower(): values[0] for name, values in self.requestHeaders.getAllRawHeaders()}
        refused = limits.refusal(method, path, headers)
        if refused is not None:
            self._refuse(refused)
            return
        self.body_limit = limits.body_limit(method, path)
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            self.discarded += len(data)
            if self.discarded > LINGER_BYTES:
                self._close()
            return
        self.body_received += len(data)
        if self.body_received > self.body_limit:  # a chunked body past the limit
            from . import limits

            self._refuse(limits.too_large(self.body_limit))
            return
        super().handleContentChunk(data)

    def _refuse(self, refused) -> None:
        self.refused = True
        self.content = _Discard()
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the answer
        self.channel.transport.write(refused.raw_response())
        from twisted.internet import reactor

        reactor.callLater(LINGER_SECONDS, self._close)

    def _close(self) -> None:
        channel = self.channel
        if channel is not None and channel.transport is not None:
            channel.transport.loseConnection()  # stops reading: the rest of the body is never received

    def process(self):
        if self.refused:
            return None
        return super().process()


class GuardedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = GuardedRequest
        return protocol


class PacedQueue:
    """The application queue of one HTTP request whose body is larger than a piece: Daphne's
    own loop only queues an empty body (its content was swapped for an empty file); the real
    body is fed from Twisted's temporary file one piece at a time, as the app consumes it."""

    def __init__(self, server: Server, protocol, queue: asyncio.Queue, content, piece: int):
        self.server = server
        self.protocol = protocol
        self.queue = queue
        self.content = content
        self.piece = piece
        self.feeding = False

    def put_nowait(self, message: dict) -> None:
        if message["type"] == "http.request" and not self.feeding:
            self.feeding = True
            asyncio.ensure_future(self._feed())
            return
        self.queue.put_nowait(message)

    def _gone(self) -> bool:
        state = self.server.connections.get(self.protocol)
        return state is None or state.get("disconnected") or self.content.closed

    async def _feed(self) -> None:
        try:
            while True:
                while self.queue.qsize() >= QUEUED_PIECES:
                    if self._gone():
                        return
                    await asyncio.sleep(0.002)
                if self._gone():
                    return
                chunk = self.content.read(self.piece)
                more = len(chunk) == self.piece
                self.queue.put_nowait({"type": "http.request", "body": chunk, "more_body": more})
                if not more:
                    return
        finally:
            if not self.content.closed:
                self.content.close()


class BigBufferServer(Server):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("request_buffer_size", REQUEST_BUFFER_SIZE)
        super().__init__(*args, **kwargs)

    def create_application(self, protocol, scope):
        content = getattr(protocol, "content", None)
        paced = scope.get("type") == "http" and content is not None and _size(content) > self.request_buffer_size
        if paced:
            protocol.content = io.BytesIO()  # Daphne's loop now queues one empty piece: PacedQueue swallows it
        queue = super().create_application(protocol, scope)
        if queue is None or not paced:
            return queue
        return PacedQueue(self, protocol, queue, content, self.request_buffer_size)


def _size(content) -> int:
    try:
        position = content.tell()
        size = content.seek(0, io.SEEK_END)
        content.seek(position)
        return size
    except (OSError, ValueError):
        return 0


class BigBufferCLI(CommandLineInterface):
    server_class = BigBufferServer


def _warm_compute() -> None:
    """Start the quick-work compute process now: spawning it (an interpreter importing the
    accountant) takes seconds, which the first privacy estimate would otherwise wait."""
    time.sleep(2)
    try:
        from django.conf import settings

        from . import compute

        if settings.COMPUTE_WARM:
            compute.warm("light")
    except Exception:  # noqa: BLE001 - the first estimate will start it instead
        logging.getLogger(__name__).warning("could not warm the compute process", exc_info=True)


def _adopt_in_its_family() -> None:
    """`--fd N` adopts the inherited socket as IPv4 whatever it is (the fd endpoint parsers
    of Twisted and Daphne default the family to AF_INET): adopt it in its own family, so
    `run.py webapp --host ::` serves IPv6 from several processes too."""
    import importlib
    import socket

    from twisted.internet.endpoints import AdoptedStreamServerEndpoint

    def parse(self, reactor, fileno, domain=None):
        fileno = int(fileno)
        if domain is None or isinstance(domain, str):
            probe = socket.socket(fileno=fileno)  # reads the family of the descriptor
            domain = probe.family
            probe.detach()
        return AdoptedStreamServerEndpoint(reactor, fileno, domain)

    for name in ("twisted.plugins.fd_endpoint", "daphne.twisted.plugins.fd_endpoint"):
        try:
            importlib.import_module(name)._FDParser._parseServer = parse
        except (ImportError, AttributeError):
            pass


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privface_site.settings")
    daphne.server.HTTPFactory = GuardedHTTPFactory  # Server.run builds its factory by this name
    _adopt_in_its_family()
    threading.Thread(target=_warm_compute, name="warm-compute", daemon=True).start()
    BigBufferCLI().run(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
