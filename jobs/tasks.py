"""Celery entry points. Tasks take ids and load rows; the work lives in runner/handlers."""

from celery import shared_task

from . import runner


@shared_task(bind=True, name="jobs.run_job")
def run_job(self, job_id: int) -> None:
    runner.execute(job_id, worker=self.request.hostname or "unknown")


@shared_task(name="jobs.reap_stale_jobs")
def reap_stale_jobs() -> list[int]:
    from .actions import reap_stale_jobs as reap

    return reap()
