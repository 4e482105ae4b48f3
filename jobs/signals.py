"""Worker life-cycle hooks: reap jobs a dead worker left RUNNING, at start and then
periodically from a timer thread in each worker's main process."""

from __future__ import annotations

import logging
import threading

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_stop = threading.Event()


def _reap(worker: str | None = None) -> None:
    from .actions import reap_stale_jobs

    try:
        reap_stale_jobs(worker=worker)
    except Exception:  # noqa: BLE001 - the next round tries again
        log.warning("reaping stale jobs failed", exc_info=True)
    finally:
        close_old_connections()


def _reaper_loop() -> None:
    while not _stop.wait(settings.JOB_HEARTBEAT_SECONDS):
        _reap()


@worker_ready.connect
def on_worker_ready(sender=None, **_: object) -> None:
    hostname = getattr(sender, "hostname", None)
    _reap(worker=hostname)
    threading.Thread(target=_reaper_loop, name="job-reaper", daemon=True).start()


@worker_shutdown.connect
def on_worker_shutdown(**_: object) -> None:
    _stop.set()
