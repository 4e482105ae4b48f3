"""Every write to a Job goes through one of these functions, each in a transaction.

Side effects (queueing the Celery task, pushing websocket events) run on commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from privface_core.errors import QuotaExceeded

from . import kinds
from .events import emit
from .models import Job, JobStatus

log = logging.getLogger(__name__)


def _locked(job_id: int) -> Job:
    return Job.objects.select_for_update().get(pk=job_id)


def _set_status(job: Job, status: str, *, error: str = "", message: str = "", result: dict | None = None) -> None:
    job.status = status
    payload: dict = {"status": status}
    if result:
        payload["result"] = result
    if error:
        job.error = error
        payload["error"] = error
    if message:
        job.message = message[:300]
        payload["message"] = job.message
    if job.is_terminal:
        job.finished_at = timezone.now()
        payload["finished_at"] = job.finished_at.isoformat()
    job.save()
    emit(job, "status", payload)
    kind = kinds.get(job.kind)
    if job.is_terminal and kind is not None and kind.on_finish:
        # In the same transaction: whoever sees the job's final event sees the owner updated.
        import_string(kind.on_finish)(job)


def create_job(owner, kind: str, params: dict) -> Job:
    """Create a queued job and send it to its kind's queue once the row is committed."""
    job_kind = kinds.get(kind)
    if job_kind is None:
        raise ValueError(f"unknown job kind {kind!r}")
    with transaction.atomic():
        _check_queue_quota(owner)
        job = Job.objects.create(owner=owner, kind=kind, params=params, message="Queued")
        emit(job, "status", {"status": JobStatus.QUEUED, "message": "Queued"})
        transaction.on_commit(lambda: enqueue(job.pk, job_kind.queue))
    return job


def _check_queue_quota(owner) -> None:
    """At most JOB_MAX_QUEUED_PER_USER jobs of one user wait at once (staff included: the
    queues are shared by everyone). Locks the user's row so that concurrent requests count
    each other's jobs."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    waiting = Job.objects.filter(owner=owner, status=JobStatus.QUEUED).count()
    limit = settings.JOB_MAX_QUEUED_PER_USER
    if waiting >= limit:
        raise QuotaExceeded(f"you already have {waiting} jobs waiting to run (the limit is {limit});"
                            " wait for one to start or cancel one")


def enqueue(job_id: int, queue: str) -> None:
    from .tasks import run_job

    run_job.apply_async(args=[job_id], queue=queue)


def request_cancel(job_id: int) -> Job:
    """A queued job is cancelled at once; a running one stops at its next progress report."""
    with transaction.atomic():
        job = _locked(job_id)
        if job.is_terminal or job.cancel_requested:
            return job
        if job.status == JobStatus.QUEUED:
            job.cancel_requested = True
            _set_status(job, JobStatus.CANCELLED, message="Cancelled before it started")
        else:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
            emit(job, "log", {"message": "Cancel requested", "level": "info"})
    return job


def claim_job(job_id: int, worker: str) -> Job | None:
    """Called when a worker starts the task. Returns None when there is nothing to run.

    A job already RUNNING here was redelivered because its worker died (acks_late +
    reject_on_worker_lost): retry it while attempts remain, else fail it.
    """
    with transaction.atomic():
        try:
            job = _locked(job_id)
        except Job.DoesNotExist:
            log.warning("job %s vanished before it ran", job_id)
            return None
        if job.is_terminal:
            return None
        if job.cancel_requested:
            _set_status(job, JobStatus.CANCELLED, message="Cancelled")
            return None
        retry = job.status == JobStatus.RUNNING
        if retry and job.attempts >= settings.JOB_MAX_ATTEMPTS:
            _set_status(job, JobStatus.FAILED, error=f"worker lost {job.attempts} times; giving up")
            return None
        now = timezone.now()
        job.attempts += 1
        job.worker = worker
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        if retry:
            emit(job, "log", {"message": f"Worker lost; retrying (attempt {job.attempts})", "level": "warning"})
        _set_status(job, JobStatus.RUNNING, message="Running")
    return job


def report_progress(job_id: int, progress: float, message: str = "", **extra) -> bool:
    """Record progress and beat the heart. Returns True when cancellation was requested."""
    progress = min(1.0, max(0.0, float(progress)))
    with transaction.atomic():
        job = _locked(job_id)
        job.progress = progress
        job.heartbeat_at = timezone.now()
        fields = ["progress", "heartbeat_at"]
        if message:
            job.message = message[:300]
            fields.append("message")
        job.save(update_fields=fields)
        emit(job, "progress", {"progress": progress, **({"message": job.message} if message else {}), **extra})
        return job.cancel_requested


def record_event(job_id: int, kind: str, payload: dict) -> None:
    with transaction.atomic():
        emit(Job.objects.get(pk=job_id), kind, payload)


def heartbeat(job_id: int) -> bool:
    """Returns True when cancellation was requested."""
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())
    return Job.objects.filter(pk=job_id, cancel_requested=True).exists()


def finish_job(job_id: int, result: dict | None = None) -> None:
    with transaction.atomic():
        job = _locked(job_id)
        if job.is_terminal:
            return
        job.result = result or {}
        job.progress = 1.0
        _set_status(job, JobStatus.SUCCEEDED, message="Done", result=job.result)


def fail_job(job_id: int, error: str) -> None:
    with transaction.atomic():
        job = _locked(job_id)
        if not job.is_terminal:
            _set_status(job, JobStatus.FAILED, error=error, message="Failed")


def mark_cancelled(job_id: int) -> None:
    with transaction.atomic():
        job = _locked(job_id)
        if not job.is_terminal:
            _set_status(job, JobStatus.CANCELLED, message="Cancelled")


def reap_stale_jobs(*, now: datetime | None = None, worker: str | None = None) -> list[int]:
    """Fail running jobs whose worker stopped beating (killed, machine lost).

    With ``worker`` set, that worker's running jobs are failed at once: the worker is
    starting, so nothing it held before can still be alive.
    """
    now = now or timezone.now()
    stale = Job.objects.stale(now - timedelta(seconds=settings.JOB_STALE_SECONDS))
    if worker:
        stale = stale | Job.objects.filter(status=JobStatus.RUNNING, worker=worker)
    reaped = []
    for job_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            job = _locked(job_id)
            if job.status != JobStatus.RUNNING:
                continue
            _set_status(job, JobStatus.FAILED, error=f"worker {job.worker or '?'} was lost (no heartbeat)")
            reaped.append(job_id)
    if reaped:
        log.warning("reaped stale jobs %s", reaped)
    return reaped
