"""Runs one job inside a worker: claim, heartbeat, call the kind's handler, record the end."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

from privface_core.errors import UserError

from . import actions, kinds
from .models import Job

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a handler when the user cancelled the job."""


class JobContext:
    """What a handler gets: its parameters and ways to report. Reports double as
    cancellation points."""

    def __init__(self, job: Job):
        self.job_id = job.pk
        self.owner_id = job.owner_id
        self.params = dict(job.params)
        self._cancel_seen = threading.Event()
        self._sent_fraction, self._sent_at = float("-inf"), float("-inf")

    def progress(self, fraction: float, message: str = "", **extra) -> None:
        if actions.report_progress(self.job_id, fraction, message, **extra):
            raise JobCancelled()
        self._sent_fraction, self._sent_at = fraction, time.monotonic()

    def progress_every(self, fraction: float, message: str = "", *, min_change: float = 1.0, seconds: float = 0.5,
                       last: bool = False, **extra) -> bool:
        """``progress`` for loops that report far more often than anyone reads: sent when the
        fraction moved by ``min_change`` or ``seconds`` passed since the last report, and always
        for the ``last`` one; the others only check for a cancel. True when it was sent.
        (``extra`` goes into the event: a loop's own ``step`` number among them.)"""
        if (last or abs(fraction - self._sent_fraction) >= min_change
                or time.monotonic() - self._sent_at >= seconds):
            self.progress(fraction, message, **extra)
            return True
        self.check_cancelled()
        return False

    def log(self, message: str, level: str = "info") -> None:
        actions.record_event(self.job_id, "log", {"message": message, "level": level})

    def metric(self, **values: float) -> None:
        actions.record_event(self.job_id, "metric", values)

    def check_cancelled(self) -> None:
        if self._cancel_seen.is_set():
            raise JobCancelled()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_seen.is_set()


class _Heartbeat(threading.Thread):
    """Beats while the handler computes, so a long step is not taken for a dead worker."""

    def __init__(self, ctx: JobContext):
        super().__init__(name=f"heartbeat-{ctx.job_id}", daemon=True)
        self.ctx = ctx
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(settings.JOB_HEARTBEAT_SECONDS):
                if actions.heartbeat(self.ctx.job_id):
                    self.ctx._cancel_seen.set()
        except Exception:  # noqa: BLE001 - a DB blip must not kill the job; the reaper judges
            log.warning("heartbeat for job %s failed", self.ctx.job_id, exc_info=True)
        finally:
            close_old_connections()


def execute(job_id: int, worker: str) -> None:
    job = actions.claim_job(job_id, worker)
    if job is None:
        return
    kind = kinds.get(job.kind)
    if kind is None:
        actions.fail_job(job_id, f"no handler for job kind {job.kind!r} on worker {worker}")
        return
    ctx = JobContext(job)
    beat = _Heartbeat(ctx)
    beat.start()
    try:
        result = import_string(kind.handler)(ctx)
    except JobCancelled:
        actions.mark_cancelled(job_id)
    except UserError as exc:
        actions.fail_job(job_id, str(exc))
    except Exception:  # noqa: BLE001 - the job records the failure; the worker lives on
        log.exception("job %s (%s) crashed", job_id, job.kind)
        # Never the exception's class or text: they carry server paths and internals.
        # The log has the traceback; the user gets a reference to it.
        actions.fail_job(job_id, f"internal error; the administrators have the details (job {job_id})")
    else:
        actions.finish_job(job_id, result)
    finally:
        beat.stopped.set()
