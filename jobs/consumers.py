"""Websocket for one job's events. The consumer only authenticates, checks the owner,
joins the job's group and replays what the client missed; jobs.events does the sending."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings

from .events import group_name
from .models import Job
from .serializers import JobSerializer
from .views import parse_after

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
MAX_ID = (1 << 63) - 1


@database_sync_to_async
def can_see(user, job_id: int) -> bool:
    return Job.objects.visible_to(user).filter(pk=job_id).exists()


@database_sync_to_async
def load_replay(job_id: int, after: int) -> tuple[dict, list[dict]]:
    job = Job.objects.get(pk=job_id)
    events = job.events.filter(id__gt=after).order_by("-id")[: settings.JOB_REPLAY_EVENTS]
    return JobSerializer(job).data, [event.as_message() for event in reversed(events)]


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    last_sent = 0

    async def connect(self) -> None:
        # Accept first, then close with a code: a handshake refused outright reaches the
        # browser as a bare 1006, and the client could not tell "log in" from "retry".
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        if job_id > MAX_ID:  # past the database's integers: no such job
            await self.close(code=CLOSE_NOT_FOUND)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        after = parse_after((query.get("after") or ["0"])[0])
        if not await can_see(user, job_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # Join before reading the replay so that nothing falls between the two.
        self.group = group_name(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        job, events = await load_replay(job_id, after)
        self.last_sent = after
        await self.send_json({"type": "job", "job": job})
        for event in events:
            await self._send_event(event)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """Clients only listen."""

    async def job_event(self, message: dict) -> None:
        await self._send_event(message["event"])

    async def _send_event(self, event: dict) -> None:
        # Replay and live delivery overlap around the join: send each id once, in order.
        if event["id"] <= self.last_sent:
            return
        self.last_sent = event["id"]
        await self.send_json({"type": "event", "event": event})


class UnknownSocketConsumer(AsyncWebsocketConsumer):
    """A websocket path with no consumer: accept, then close with 4404 (as for a missing job)."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)
