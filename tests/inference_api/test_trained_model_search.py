"""The loop over HTTP with a real worker: a model trained by `run.py train` is registered,
a gallery is created with it (owner only), enrolled and searched on `cpu` workers (the
model loaded once per worker process), results name the model and its privacy; a search
after the model file changed is refused; deleting the model asks first."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token

from inference.models import Gallery
from tests.live import ROOT, process_env, wait_for
from training.models import TrainedModel

from .helpers import FACES, PROBE, enrollment_photos, finished, photo, register_model, search

pytestmark = pytest.mark.slow

PEOPLE = ["person_00", "person_01", "person_02", "person_03"]


def test_it_enrolls_and_searches_with_a_trained_model_on_workers(worker, server, trained_backbone, alice, bob,
                                                                  alice_client, bob_client, monkeypatch, tmp_path):
    model = register_model(alice, trained_backbone)
    bobs = register_model(bob, trained_backbone, "bob's")
    card = model.card

    # -- the registry offers it, ready, with its DP unit; another user's model is a 404
    listed = alice_client.get("/api/models/").json()["results"]
    assert [(m["id"], m["ready"], m["galleries"]) for m in listed] == [(model.pk, True, [])]
    assert listed[0]["dp_unit"].startswith("one image")
    refused = alice_client.post("/api/galleries/", {"name": "stolen", "source": "images", "model": bobs.pk},
                                format="json")
    assert refused.status_code == 404 and refused.json()["detail"] == f"no model {bobs.pk}"
    missing = alice_client.post("/api/galleries/", {"name": "none", "source": "images", "model": 999_999},
                                format="json")
    assert missing.status_code == 404 and missing.json() == refused.json() | {"detail": "no model 999999"}
    assert not Gallery.objects.filter(owner=alice).exists()

    # -- a gallery with the model records it and its file's digest
    created = alice_client.post("/api/galleries/", {"name": "dp", "source": "images", "model": model.pk},
                                format="json")
    assert created.status_code == 201, created.content
    body = created.json()["gallery"]
    gallery_id = body["id"]
    gallery = Gallery.objects.get(pk=gallery_id)
    assert body["model"] == model.pk and len(gallery.model_digest) == 64
    assert body["embedder"]["name"] == f"keras:{gallery.model_digest[:16]}"
    assert body["embedder"]["model"] == {"id": model.pk, "name": "casia dp"}
    assert body["embedder"]["privacy"] == {"private": True, "epsilon": card["dp"]["epsilon"],
                                           "delta": card["dp"]["delta"], "unit": card["dp"]["unit"],
                                           "accountant": "rdp"}
    assert body["dim"] == card["model"]["embedding_size"]
    assert body["threshold"] == body["embedder"]["default_threshold"]  # the model's, until calibrated
    assert body["threshold"] == pytest.approx(1 - card["verification"]["far_threshold"] / 2, abs=1e-4)

    # -- enrollment on the worker, calibrated
    photos = enrollment_photos(PEOPLE, 3)
    files = [SimpleUploadedFile(name, photo(name), content_type="image/jpeg") for name, _ in photos]
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                                 {"files": files, "labels": [person for _, person in photos]}, format="multipart")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: finished(response.json()["job"]["id"]), 180, "enrollment with the trained model")
    assert job.status == "succeeded", job.error
    detail = alice_client.get(f"/api/galleries/{gallery_id}/").json()
    assert (detail["status"], detail["identities"], detail["templates"]) == ("ready", 4, 4)
    calibration = detail["calibration"]
    assert (calibration["impostor_pairs"], calibration["genuine_pairs"], calibration["gallery_size"]) == (36, 12, 4)
    assert detail["threshold"] == calibration["threshold"] is not None
    assert alice_client.get("/api/models/").json()["results"][0]["galleries"] == [{"id": gallery_id, "name": "dp"}]

    # -- search: the probe is embedded by the worker (the web process never loads the model)
    def no_keras_here(*args, **kwargs):
        raise AssertionError("the web process loaded the Keras model")

    monkeypatch.setattr("inference.engine.embedders.cached_keras_embedder", no_keras_here)
    found = search(alice_client, gallery_id, photo(PROBE[0]), threshold="-1", top_k="4")
    assert found.status_code == 200, found.content
    result = found.json()
    assert result["embedder"]["model"] == {"id": model.pk, "name": "casia dp"}
    assert result["embedder"]["privacy"]["epsilon"] == card["dp"]["epsilon"]
    assert result["threshold"] == -1 and {m["identity"] for m in result["matches"]} == set(PEOPLE)
    assert result["server"]["worker_model_cached"] is True  # loaded once, by the enrollment in this process
    assert result["server"]["worker_embed_seconds"] > 0
    default = search(alice_client, gallery_id, photo(PROBE[0])).json()
    assert default["threshold"] == calibration["threshold"]
    assert all(m["score"] >= default["threshold"] for m in default["matches"])

    # -- the CLI's --server mode without --model: the key holder embeds, with the gallery's model
    #    fetched from the registry, checked against the gallery's digest and cached
    token = Token.objects.get(user=alice).key

    def cli_search() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "run.py", "inference", "--server", server.url, "--gallery", "dp",
             "--query_image", str(FACES / PROBE[0]), "--threshold", "-1", "--top_k", "4", "--json"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env=process_env() | {"PRIVFACE_VAR_DIR": str(tmp_path), "PRIVFACE_TOKEN": token})

    first = cli_search()
    assert first.returncode == 0, first.stderr[-2000:]
    assert "downloaded to" in first.stderr
    remote = json.loads(first.stdout.strip().splitlines()[-1])
    assert remote["mode"] == "server" and [m["identity"] for m in remote["matches"]] == [
        m["identity"] for m in result["matches"]]
    assert abs(remote["matches"][0]["score"] - result["matches"][0]["score"]) < 1e-3
    cached = next((tmp_path / "models-cli").glob("*/backbone.keras"))
    assert cached.read_bytes() == trained_backbone.read_bytes()
    again = cli_search()
    assert again.returncode == 0 and "downloaded" not in again.stderr  # from the cache

    # -- the model file is replaced: both search flows are refused, clearly
    with open(model.export_dir / "backbone.keras", "ab") as fh:
        fh.write(b"\0")
    changed = search(alice_client, gallery_id, photo(PROBE[0]))
    assert changed.status_code == 409
    assert "whose file has changed since" in changed.json()["detail"] and "casia dp" in changed.json()["detail"]
    remote = alice_client.post(f"/api/galleries/{gallery_id}/encrypted-search/?key_id=x", b"q",
                               content_type="application/octet-stream")
    assert remote.status_code == 409 and "whose file has changed" in remote.json()["detail"]
    (model.export_dir / "backbone.keras").unlink()
    gone = search(alice_client, gallery_id, photo(PROBE[0]))
    assert gone.status_code == 409 and "whose file is gone" in gone.json()["detail"]

    # -- deleting the model asks first, naming the gallery; confirmed, both go
    refused = alice_client.delete(f"/api/models/{model.pk}/")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("model 'casia dp' is used by 1 gallery: 'dp'")
    assert TrainedModel.objects.filter(pk=model.pk).exists() and Gallery.objects.filter(pk=gallery_id).exists()
    storage = Gallery.objects.get(pk=gallery_id).storage_dir
    assert alice_client.delete(f"/api/models/{model.pk}/?delete_galleries=1").status_code == 204
    assert not TrainedModel.objects.filter(pk=model.pk).exists()
    assert not Gallery.objects.filter(pk=gallery_id).exists()
    wait_for(lambda: not storage.exists() and not model.export_dir.exists(), 10, "files removed on commit")
    assert bob_client.delete(f"/api/models/{bobs.pk}/").status_code == 204  # no galleries: no question
