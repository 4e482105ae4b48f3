"""A real Celery worker runs jobs; a real websocket client on a real Daphne receives
their events through the real Redis channel layer; killed workers leave no job RUNNING."""

import json
import os
import signal
import time

import pytest
import requests
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

from jobs.models import Job, JobStatus
from tests.live import Worker, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def alice(db):
    """Staff: selftest jobs, which these tests start through the API, are staff-only (#14)."""
    from accounts.actions import create_user

    user, _ = create_user("alice", "alice-password-1", staff=True)
    return user


def api(server, user):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.get(user=user).key}"
    session.base = server.url
    return session


def start_job(session, **params) -> dict:
    response = session.post(f"{session.base}/api/jobs/", json={"kind": "selftest", "params": params})
    assert response.status_code == 201, response.text
    return response.json()


def stream(server, session, job_id: int, until, timeout: float = 30) -> list[dict]:
    """Collect websocket messages until ``until(job_view)`` holds."""
    url = server.url.replace("http", "ws") + f"/ws/jobs/{job_id}/"
    headers = {"Authorization": session.headers["Authorization"]}
    messages: list[dict] = []
    deadline = time.monotonic() + timeout
    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        view: dict = {}
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            messages.append(message)
            if message["type"] == "job":
                view.update(message["job"])
            else:
                view.update({k: v for k, v in message["event"]["payload"].items() if k in ("status", "progress")})
            if until(view):
                return messages
    raise AssertionError(f"job {job_id} never reached the state; got {messages}")


def test_it_streams_a_job_in_order(server, worker, alice):
    session = api(server, alice)
    job = start_job(session, steps=5, step_seconds=0.2)
    messages = stream(server, session, job["id"], lambda v: v.get("status") == "succeeded")
    events = [m["event"] for m in messages if m["type"] == "event"]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    progress = [e["payload"]["progress"] for e in events if e["kind"] == "progress"]
    assert progress == [0.2, 0.4, 0.6, 0.8, 1.0]
    statuses = [e["payload"]["status"] for e in events if e["kind"] == "status"]
    assert statuses == ["queued", "running", "succeeded"]
    assert session.get(f"{server.url}/api/jobs/{job['id']}/").json()["status"] == "succeeded"


def test_it_cancels_a_running_job(server, worker, alice):
    session = api(server, alice)
    job = start_job(session, steps=100, step_seconds=0.1)
    stream(server, session, job["id"], lambda v: v.get("progress", 0) > 0)
    assert session.post(f"{server.url}/api/jobs/{job['id']}/cancel/").status_code == 200
    stream(server, session, job["id"], lambda v: v.get("status") == "cancelled", timeout=15)
    assert Job.objects.get(pk=job["id"]).progress < 1


def test_a_failing_job_records_its_error(server, worker, alice):
    session = api(server, alice)
    job = start_job(session, steps=5, step_seconds=0, fail_at=2)
    stream(server, session, job["id"], lambda v: v.get("status") == "failed")
    assert Job.objects.get(pk=job["id"]).error == "selftest asked to fail at step 2"


def test_another_user_cannot_subscribe(server, alice, bob):
    job = start_job(api(server, alice), steps=1, step_seconds=0)
    url = server.url.replace("http", "ws") + f"/ws/jobs/{job['id']}/"
    headers = {"Authorization": f"Token {Token.objects.get(user=bob).key}"}
    with connect(url, additional_headers=headers) as ws:
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4404


def running(job_id: int) -> bool:
    return Job.objects.get(pk=job_id).status == JobStatus.RUNNING and Job.objects.get(pk=job_id).progress > 0


def test_a_killed_pool_process_requeues_the_job(worker, alice):
    from jobs import actions

    job = actions.create_job(alice, "selftest", {"steps": 20, "step_seconds": 0.1})
    wait_for(lambda: running(job.pk), 30, "job running")
    for pid in worker.children():
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, 60, "job to end")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert job.events.filter(kind="log", payload__message__startswith="Worker lost").exists()


def test_a_killed_worker_leaves_its_job_failed(transactional_db, purged_queues, alice):
    from jobs import actions

    first = Worker().start()
    job = actions.create_job(alice, "selftest", {"steps": 200, "step_seconds": 0.1})
    try:
        wait_for(lambda: running(job.pk), 30, "job running")
        first.kill()
        # Another worker's reaper sees the heartbeat stop (JOB_STALE_SECONDS=6 in tests).
        second = Worker().start()
        try:
            wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, 30, "job reaped")
        finally:
            second.stop()
    finally:
        first.kill()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "was lost" in job.error


def test_a_restarted_worker_fails_what_it_held(transactional_db, purged_queues, alice):
    from jobs import actions

    first = Worker().start()
    job = actions.create_job(alice, "selftest", {"steps": 200, "step_seconds": 0.1})
    wait_for(lambda: running(job.pk), 30, "job running")
    first.kill()
    again = Worker(name=first.name, JOB_STALE_SECONDS="3600").start()
    try:
        # reaped at worker_ready, long before the 3600 s stale timeout
        wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.FAILED, 10, "job failed")
    finally:
        again.stop()
