"""Follow a job over its real websocket until it ends, as the dashboard does."""

from __future__ import annotations

import json
import time

from websockets.sync.client import connect


def follow_job(server_url: str, token: str, job_id: int, timeout: float) -> tuple[list[dict], str | None]:
    """The job's ``metric`` payloads in order, and its last status (``succeeded``/``failed``, or None on timeout)."""
    url = server_url.replace("http", "ws") + f"/ws/jobs/{job_id}/"
    metrics, status = [], None
    deadline = time.monotonic() + timeout
    with connect(url, additional_headers={"Authorization": f"Token {token}"}) as ws:
        while status not in ("succeeded", "failed") and time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=max(1, deadline - time.monotonic())))
            if message["type"] == "event":
                event = message["event"]
                if event["kind"] == "metric":
                    metrics.append(event["payload"])
                status = event["payload"].get("status", status) if event["kind"] == "status" else status
    return metrics, status
