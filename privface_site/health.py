"""GET /api/health/: database, Redis and worker reachability (no auth, no secrets)."""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

log = logging.getLogger(__name__)


def _timed(check) -> dict:
    start = time.perf_counter()
    try:
        detail = check()
    except Exception:  # noqa: BLE001 - reported, not raised
        # The answer is public: no exception class, address or path in it; the log has them.
        log.warning("health check %s failed", check.__name__, exc_info=True)
        return {"ok": False, "error": "unreachable (the server log has the details)"}
    return {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1), **(detail or {})}


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def check_redis() -> dict:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return {}


def check_workers() -> dict:
    from privface_site.celery import app

    replies = app.control.inspect(timeout=1.0).active_queues() or {}
    workers = {name: sorted(q["name"] for q in queues) for name, queues in replies.items()}
    served = {q for queues in workers.values() for q in queues}
    return {"workers": workers, "queues_without_worker": sorted({"cpu", "gpu"} - served)}


@extend_schema(responses={200: dict, 503: dict})
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request: Request) -> Response:
    database = _timed(check_database)
    cache = _timed(check_redis)
    workers = _timed(check_workers) if cache["ok"] else {"ok": False, "error": "redis unreachable"}
    if workers["ok"] and not workers["workers"]:
        workers["ok"] = False
    ok = database["ok"] and cache["ok"]
    body = {
        "status": "ok" if ok and workers["ok"] else ("degraded" if ok else "down"),
        "database": database,
        "redis": cache,
        "workers": workers,
    }
    return Response(body, status=200 if ok else 503)
