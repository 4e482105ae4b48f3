"""The one place that writes job events and pushes them to the job's Channels group.

Every long task reports through here: the event row is written in the caller's
transaction and the websocket push happens only after commit, so a subscriber never
sees an event that a rollback later erased.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .models import Job, JobEvent

log = logging.getLogger(__name__)


def group_name(job_id: int) -> str:
    return f"job.{job_id}"


def emit(job: Job, kind: str, payload: dict | None = None) -> JobEvent:
    event = JobEvent.objects.create(job=job, kind=kind, payload=payload or {})
    message = {"type": "job.event", "event": event.as_message()}
    transaction.on_commit(lambda: push(job.pk, message))
    return event


def push(job_id: int, message: dict) -> None:
    """Send to the job's group; a Redis hiccup must not fail the job (the row is saved)."""
    try:
        async_to_sync(get_channel_layer().group_send)(group_name(job_id), message)
    except Exception:  # noqa: BLE001 - delivery is best effort, replay covers the gap
        log.warning("could not push event for job %s", job_id, exc_info=True)
