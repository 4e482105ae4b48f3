"""The job websocket through the real ASGI app and the real Redis channel layer."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from jobs import actions
from jobs.events import emit
from jobs.models import Job
from privface_site.asgi import application


def token_headers(user) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Token {Token.objects.get(user=user).key}".encode())]


async def _open(path: str, headers=None) -> tuple[WebsocketCommunicator, list[dict], int | None]:
    """Connect, collect what the server sends until it goes quiet, report the close code."""
    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect()
    assert connected
    messages, close_code = [], None
    # receive_nothing peeks without cancelling the app (a receive timeout would cancel it)
    while not await comm.receive_nothing(timeout=0.5):
        output = await comm.receive_output()
        if output["type"] == "websocket.close":
            close_code = output.get("code")
            break
        messages.append(json.loads(output["text"]))
    return comm, messages, close_code


@pytest.fixture
def job(alice, transactional_db) -> Job:
    return actions.create_job(alice, "selftest", {"steps": 2, "step_seconds": 0})


def test_it_refuses_anonymous_clients(job):
    comm, messages, code = async_to_sync(_open)(f"/ws/jobs/{job.pk}/")
    assert (messages, code) == ([], 4401)


def test_it_gives_other_users_404(job, bob):
    comm, messages, code = async_to_sync(_open)(f"/ws/jobs/{job.pk}/", token_headers(bob))
    assert (messages, code) == ([], 4404)


def test_it_gives_404_for_a_missing_job(alice, transactional_db):
    comm, messages, code = async_to_sync(_open)("/ws/jobs/999999/", token_headers(alice))
    assert code == 4404


def test_it_replays_then_streams(job, alice):
    actions.report_progress(job.pk, 0.5, "half")
    headers = token_headers(alice)

    async def scenario():
        comm, messages, code = await _open(f"/ws/jobs/{job.pk}/", headers)
        assert code is None
        await database_sync_to_async(actions.report_progress)(job.pk, 0.75, "more")
        live = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        return messages, live

    messages, live = async_to_sync(scenario)()
    assert messages[0]["type"] == "job" and messages[0]["job"]["id"] == job.pk
    kinds = [(m["event"]["kind"], m["event"]["payload"].get("progress")) for m in messages[1:]]
    assert kinds == [("status", None), ("progress", 0.5)]
    assert live["type"] == "event" and live["event"]["payload"]["progress"] == 0.75


def test_it_replays_only_after_the_given_id(job, alice):
    first = job.events.get()
    emit(job, "log", {"message": "hello"})
    comm, messages, code = async_to_sync(_open)(f"/ws/jobs/{job.pk}/?after={first.pk}", token_headers(alice))
    assert [m["event"]["payload"] for m in messages[1:]] == [{"message": "hello"}]


def test_it_refuses_a_foreign_origin(job, alice):
    headers = token_headers(alice) + [(b"origin", b"https://evil.example")]
    comm = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/", headers=headers)
    connected, _ = async_to_sync(comm.connect)()
    assert connected is False


def test_it_accepts_its_own_origin(job, alice):
    # A browser sends Host with the Origin; both must name this site, port included (#14).
    headers = token_headers(alice) + [(b"origin", b"http://127.0.0.1:8000"), (b"host", b"127.0.0.1:8000")]
    comm, messages, code = async_to_sync(_open)(f"/ws/jobs/{job.pk}/", headers)
    assert code is None and messages[0]["type"] == "job"


@pytest.mark.parametrize("origin", [b"http://localhost:9999", b"http://localhost", b"https://localhost:8000"])
def test_it_refuses_its_own_host_on_another_port_or_scheme(job, alice, origin):
    # Issue #14: `Origin: http://localhost:9999` with a valid session streamed a job.
    headers = token_headers(alice) + [(b"origin", origin), (b"host", b"localhost:8000")]
    comm = WebsocketCommunicator(application, f"/ws/jobs/{job.pk}/", headers=headers)
    connected, _ = async_to_sync(comm.connect)()
    assert connected is False


def test_it_accepts_a_trusted_origin(job, alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://faces.example.org"]
    headers = token_headers(alice) + [(b"origin", b"https://faces.example.org"), (b"host", b"localhost:8000")]
    comm, messages, code = async_to_sync(_open)(f"/ws/jobs/{job.pk}/", headers)
    assert code is None and messages[0]["type"] == "job"
