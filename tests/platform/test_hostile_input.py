"""Issue #14, section 4: requests that were 500s or leaked internals get a clear JSON 4xx."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator, WebsocketCommunicator
from rest_framework.test import APIClient

from datasets.models import Dataset, DatasetStatus
from jobs import actions as job_actions
from jobs import kinds, runner
from jobs.models import Job, JobStatus
from privface_site.asgi import application

HUGE_ID = 2**63 + 5  # past the database's integers
NESTED = "[" * 50_000


@pytest.fixture
def dataset(alice) -> Dataset:
    return Dataset.objects.create(owner=alice, name="tiny", status=DatasetStatus.READY, images=80, identities=10,
                                  summary={"per_identity": {"0": 40, "1": 40}})


@pytest.mark.parametrize("path", [
    "/api/auth/token/", "/api/auth/login/", "/api/jobs/", "/api/datasets/", "/api/privacy/", "/api/training/",
    "/api/galleries/", "dataset-files",
])
def test_it_refuses_deeply_nested_json(alice_client, dataset, path):
    if path == "dataset-files":
        path = f"/api/datasets/{Dataset.objects.create(owner=dataset.owner, name='up').pk}/files/"
    client = APIClient() if path.startswith("/api/auth/") else alice_client  # anonymous, as the issue sent it
    response = client.post(path, NESTED, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["detail"]


def test_it_refuses_json_nested_past_the_limit_even_when_it_parses(alice_client):
    body = json.dumps({"kind": "selftest", "params": {"steps": [[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]}})
    body = body.replace("[]", "[" * 70 + "]" * 70)
    response = alice_client.post("/api/jobs/", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize("path", [
    f"/api/jobs/{HUGE_ID}/", f"/api/jobs/{HUGE_ID}/events/", f"/api/datasets/{HUGE_ID}/",
    f"/api/datasets/{HUGE_ID}/files/1/", f"/api/datasets/1/files/{HUGE_ID}/",
    f"/api/datasets/{HUGE_ID}/privacy-ledger/", f"/api/models/{HUGE_ID}/", f"/api/galleries/{HUGE_ID}/",
    f"/api/datasets/1/images/{HUGE_ID}/1.jpg", "/api/jobs/" + "9" * 5000 + "/",
])
def test_it_answers_404_for_ids_past_2_63(alice_client, path):
    response = alice_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_it_ignores_an_event_cursor_past_2_63(alice_client, alice):
    job = job_actions.create_job(alice, "selftest", {"steps": 1, "step_seconds": 0})
    for after in (str(HUGE_ID), "%C2%B2", "9" * 5000):
        response = alice_client.get(f"/api/jobs/{job.pk}/events/?after={after}")
        assert response.status_code == 200


def test_it_refuses_superscript_digits_in_offset(alice_client, dataset):
    response = alice_client.get(f"/api/datasets/{dataset.pk}/identities/?offset=%C2%B2")
    assert response.status_code == 400
    assert "offset must be a whole number" in response.json()["detail"]


def test_it_refuses_superscript_digits_in_a_chunk_offset(alice_client, alice):
    upload = Dataset.objects.create(owner=alice, name="up")
    file_id = alice_client.post(f"/api/datasets/{upload.pk}/files/",
                                {"filename": "a.idx", "size": 3, "sha256": "0" * 64}, format="json").json()["id"]
    response = alice_client.generic("PUT", f"/api/datasets/{upload.pk}/files/{file_id}/chunk/?offset=%C2%B2", b"abc",
                                    content_type="application/octet-stream")
    assert response.status_code == 400
    assert "offset" in response.json()["detail"]


def test_it_answers_404_for_an_image_name_over_255_characters(alice_client, dataset):
    response = alice_client.get(f"/api/datasets/{dataset.pk}/images/0/{'1' * 300}.jpg")
    assert response.status_code == 404


@pytest.mark.parametrize("config, field", [
    ({"lr_steps": 5}, "--lr_steps"),
    ({"devices": 3}, "devices"),
    ({"devices": ["/gpu:0"]}, "devices: set by the server"),
    ({"decode_threads": 64}, "decode_threads: set by the server"),
    ({"seed": "abc"}, "--seed"),
    ({"batch_size": 1000}, "--batch_size must not exceed the 72 training images"),
    ({"epochs": 100_000}, "--epochs"),
    ({"embedding_size": 1 << 20}, "--embedding_size"),
])
def test_it_refuses_bad_training_parameters_by_name(alice_client, dataset, config, field):
    response = alice_client.post("/api/training/", {"dataset": dataset.pk, "config": config}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"]


def test_it_still_accepts_a_seed(alice_client, dataset, monkeypatch):
    monkeypatch.setattr("jobs.actions.enqueue", lambda job_id, queue: None)
    config = {"seed": 7, "epochs": 1, "batch_size": 8}
    response = alice_client.post("/api/training/", {"dataset": dataset.pk, "config": config}, format="json")
    assert response.status_code == 202, response.content


async def _close_code(path: str, headers=None) -> int | None:
    comm = WebsocketCommunicator(application, path, headers=headers or [])
    connected, _ = await comm.connect()
    assert connected
    output = await comm.receive_output(timeout=2)
    await comm.wait()
    return output.get("code") if output["type"] == "websocket.close" else None


@pytest.mark.parametrize("path", ["/ws/jobs/abc/", "/ws/nothing/"])
def test_unknown_websocket_paths_close_cleanly(transactional_db, path):
    assert async_to_sync(_close_code)(path) == 4404


def test_a_websocket_for_a_job_id_past_2_63_is_not_found(alice, transactional_db):
    from rest_framework.authtoken.models import Token

    headers = [(b"authorization", f"Token {Token.objects.get(user=alice).key}".encode())]
    assert async_to_sync(_close_code)(f"/ws/jobs/{HUGE_ID}/", headers) == 4404


def test_it_refuses_bin_files_whose_names_clean_to_the_same_name(alice_client, alice):
    upload = Dataset.objects.create(owner=alice, name="evals")
    first = alice_client.post(f"/api/datasets/{upload.pk}/files/",
                              {"filename": "a b.bin", "size": 3, "sha256": "0" * 64}, format="json")
    assert first.status_code == 201
    second = alice_client.post(f"/api/datasets/{upload.pk}/files/",
                               {"filename": "a_b.bin", "size": 3, "sha256": "0" * 64}, format="json")
    assert second.status_code == 409
    assert second.json()["detail"] == "a_b.bin and a b.bin would be stored under the same name; rename one"


def _crash(ctx):
    raise FileExistsError(17, "File exists", "/srv/privface/var/data/datasets/7/extracted/eval/a_b")


def test_a_crashed_job_shows_no_server_path_or_exception_class(alice):
    kinds.register(kinds.JobKind(name="crash-test", queue="cpu", handler=f"{__name__}._crash",
                                 params_serializer="jobs.selftest.SelftestParams", user_creatable=False))
    job = Job.objects.create(owner=alice, kind="crash-test", params={})
    runner.execute(job.pk, "test-worker")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == f"internal error; the administrators have the details (job {job.pk})"
    assert "FileExistsError" not in job.error and "/srv" not in job.error


def _asgi_post(path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> dict:
    async def go():
        comm = HttpCommunicator(application, "POST", path, body=body, headers=headers)
        return await comm.get_response(timeout=10)
    return async_to_sync(go)()


def test_json_over_the_size_limit_gets_a_json_answer(transactional_db, settings):
    body = json.dumps({"username": "x" * (3 << 20), "password": "y"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    response = _asgi_post("/api/auth/token/", body, headers)
    assert response["status"] == 413
    assert dict(response["headers"])[b"content-type"] == b"application/json"
    assert "over the limit of 2621440 bytes" in json.loads(response["body"])["detail"]


def test_a_body_over_the_django_limit_gets_a_json_answer(alice_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = alice_client.post("/api/datasets/", "name=" + "x" * 5000,
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
