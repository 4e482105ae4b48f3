"""``python -m federation.engine.simulate RUN_DIR``: one simulated federated run in this process.

Always its own process: Ray keeps global state (and ``run_simulation`` shuts it down at the
end), and Celery's stdout proxy breaks ``ray.init``. ``runner.run`` starts it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from .events import CONFIG_FILE


def backend_config(client_cpus: float) -> dict:
    cpus = os.cpu_count() or 1
    return {
        "client_resources": {"num_cpus": min(client_cpus, cpus), "num_gpus": 0.0},
        # No dashboard, no usage reporting: nothing listens or calls out beyond this machine.
        "init_args": {"num_cpus": cpus, "include_dashboard": False, "logging_level": "ERROR",
                      "configure_logging": True},
    }


def _die_with_parent() -> None:
    """The run's processes (this one, Ray's daemons and workers: one process group) end when
    whoever started it does: a retried job must not meet a run left over from a dead worker."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(run_dir: str) -> int:
    from flwr.simulation import run_simulation

    if os.getpgrp() == os.getpid():  # only when started as a group of its own (runner.py does)
        _die_with_parent()
    from .client_app import app as client_app
    from .server_app import make_server_app

    config = json.loads((Path(run_dir) / CONFIG_FILE).read_text())
    run_simulation(make_server_app(run_dir), client_app, int(config["num_clients"]),
                   backend_config=backend_config(float(config["client_cpus"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
