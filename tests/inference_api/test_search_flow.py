"""The whole encrypted-search flow with a real Celery worker: enroll labelled photos and a
ready dataset through the API, search under CKKS, inspect what was enqueued, what lies
on disk and what was audited; the CLI's --server mode against a real Daphne."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.utils.json import dumps as kombu_dumps
from rest_framework.authtoken.models import Token

from datasets.models import Dataset
from inference import redisio
from inference.engine import he_wire, store
from inference.engine.enroll import jpeg_of
from inference.engine.faces import align_face_bytes
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY
from inference.engine.he_layout import SearchProfile
from inference.engine.he_params import seal_context
from inference.models import Gallery, SearchAudit
from inference.storage import store_for
from inference.tasks import score_shard
from tests.live import ROOT, process_env, wait_for

from .helpers import MIRRORED_PROBE, PROBE, STRANGER, enrollment_photos, finished, grey_jpeg, mirrored, photo, search

pytestmark = pytest.mark.slow


def loads_as_secret_key(profile: SearchProfile, section: bytes) -> bool:
    from tenseal import sealapi

    secret = sealapi.SecretKey()
    try:
        he_wire.seal_load(lambda p: secret.load(seal_context(profile.params), p), section)
    except he_wire.PayloadError:
        return False
    return True


class Enqueued:
    """Wraps score_shard.apply_async: records each message and the Redis blobs it points at."""

    def __init__(self, monkeypatch):
        self.calls: list[dict] = []
        self.blobs: list[dict[str, bytes]] = []
        original = score_shard.apply_async

        def record(*args, **options):
            self.calls.append({"args": args, **options})
            kwargs = options["kwargs"]
            redis = redisio.client()
            self.blobs.append({"context": redis.get(kwargs["context_key"]), "query": redis.get(kwargs["query_key"])})
            return original(*args, **options)

        monkeypatch.setattr(score_shard, "apply_async", record)


def test_enroll_and_search_through_the_api(worker, server, alice, alice_client, bob_client, monkeypatch):
    # Public contexts other tests registered live until their TTL: this flow's "nothing left
    # behind" is about its own keys (the session's Redis is flushed once, not per test).
    stale = redisio.client().keys(f"{redisio.PREFIX}:*")
    if stale:
        redisio.client().delete(*stale)
    # -- enroll labelled photos (plus one without a face) through the API
    created = alice_client.post("/api/galleries/", {"name": "friends", "source": "images"}, format="json")
    assert created.status_code == 201, created.content
    gallery_id = created.json()["gallery"]["id"]
    photos = enrollment_photos()
    files = [SimpleUploadedFile(name, photo(name), content_type="image/jpeg") for name, _ in photos]
    files.append(SimpleUploadedFile("blank.jpg", grey_jpeg(), content_type="image/jpeg"))
    labels = [person for _, person in photos] + ["person_00"]
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/", {"files": files, "labels": labels},
                                 format="multipart")
    assert response.status_code == 202, response.content
    assert response.json()["gallery"]["status"] == "enrolling"
    job = wait_for(lambda: finished(response.json()["job"]["id"]), 60, "enrollment job")
    assert job.status == "succeeded", job.error
    assert (job.result["identities"], job.result["templates"], job.result["enrolled"], job.result["skipped"]) == (
        7, 7, 21, 1)
    assert job.result["skipped_photos"][0]["photo"] == "blank.jpg"
    assert any("blank.jpg" in e.payload.get("message", "") for e in job.events.filter(kind="log"))
    assert job.events.filter(kind="progress").count() >= 2
    detail = alice_client.get(f"/api/galleries/{gallery_id}/").json()
    assert (detail["status"], detail["identities"], detail["templates"], detail["skipped"]) == ("ready", 7, 7, 1)
    # New galleries score by dlib's own rule, Euclidean on its raw descriptors (faces.md).
    assert detail["embedder"] == {"name": "dlib-resnet-v1-l2", "dim": 128, "private": False, "score": "euclidean",
                                  "source": "face-recognition-models 0.3.0", "default_threshold": 0.92,
                                  "model": None, "model_name": None,
                                  "privacy": {"private": False, "epsilon": None, "delta": None, "unit": None,
                                              "accountant": None, "note": "public pretrained weights: not private"}}
    # Calibrated at enrollment: 7 identities of 3 photos, so 21 x 6 impostor and 21 genuine pairs.
    calibration = detail["calibration"]
    assert (calibration["impostor_pairs"], calibration["genuine_pairs"], calibration["gallery_size"]) == (126, 21, 7)
    assert calibration["fpir_target"] == 0.01 and detail["threshold"] == calibration["threshold"]
    gallery = Gallery.objects.get(pk=gallery_id)
    assert not (gallery.incoming_dir).exists() or not any(gallery.incoming_dir.iterdir())  # uploads deleted

    # -- a left-out photo of an enrolled person: the right identity first
    enqueued = Enqueued(monkeypatch)
    found = search(alice_client, gallery_id, photo(PROBE[0]))
    assert found.status_code == 200, found.content
    body = found.json()
    assert body["matches"][0]["identity"] == PROBE[1]
    assert body["matches"][0]["score"] >= 0.92 and body["matched"] is True
    assert body["aligned"] is True and body["faces_found"] == 1
    assert body["aligned_crop"].startswith("data:image/jpeg;base64,")
    server_info = body["server"]
    print("first search:", json.dumps(server_info))  # shown with -s
    for key in ("upload_bytes", "context_bytes", "response_bytes", "shards", "server_seconds",
                "client_encrypt_seconds", "client_decrypt_seconds", "total_seconds"):
        assert key in server_info, key
    assert server_info["shards"] == 1 and server_info["upload_bytes"] < 100_000

    # What went to Celery: ids and Redis key names only; the Redis blobs hold no secret key.
    assert len(enqueued.calls) == 1
    call = enqueued.calls[0]
    assert call["queue"] == "cpu" and not call["args"]
    assert set(call["kwargs"]) == {"gallery_id", "version", "store", "start_block", "stop_block", "context_key",
                                   "query_key", "reply_key"}
    assert all(isinstance(v, int | str) and len(str(v)) < 80 for v in call["kwargs"].values())
    assert len(kombu_dumps(call["kwargs"])) < 600
    blobs = enqueued.blobs[0]
    header, sections = he_wire.unpack(blobs["context"], PUBLIC_CONTEXT)
    profile = SearchProfile.from_dict(header["profile"])
    assert set(header) == {"kind", "profile"} and len(sections) == 1
    assert not loads_as_secret_key(profile, sections[0])
    header, sections = he_wire.unpack(blobs["query"], QUERY)
    assert len(sections) == 1 and not loads_as_secret_key(profile, sections[0])
    assert not redisio.client().keys(f"{redisio.PREFIX}:*")  # nothing left behind

    thumbnail = body["matches"][0]["thumbnail"].split("testserver")[1]
    image = alice_client.get(thumbnail)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    assert bob_client.get(thumbnail).status_code == 404

    # -- a mirrored photo finds the same person; a stranger finds no one
    mirror = search(alice_client, gallery_id, mirrored(photo(MIRRORED_PROBE[0])), top_k=3).json()
    assert mirror["matches"][0]["identity"] == MIRRORED_PROBE[1] and len(mirror["matches"]) <= 3
    assert mirror["server"]["server_cached"] is True  # the worker kept the encoded shard
    stranger = search(alice_client, gallery_id, photo(STRANGER[0])).json()
    print("warm search:", json.dumps(stranger["server"]))
    assert stranger["matches"] == [] and stranger["matched"] is False
    assert search(bob_client, gallery_id, photo(PROBE[0])).status_code == 404

    # -- audit: one row per search, nothing biometric in it
    audit = alice_client.get(f"/api/galleries/{gallery_id}/audit/").json()
    assert audit["count"] == 3
    assert [(row["mode"], row["matched"], row["result_count"]) for row in audit["results"]] == [
        ("web", False, 0), ("web", True, len(mirror["matches"])), ("web", True, len(body["matches"]))]
    for row in SearchAudit.objects.all():
        stored = json.dumps({f.attname: str(getattr(row, f.attname)) for f in SearchAudit._meta.fields})
        assert len(stored) < 2000 and "base64" not in stored and PROBE[1] not in stored

    # -- templates at rest: encrypted, not an npy/npz, not a JPEG; readable with the key only
    folder = gallery.storage_dir / Gallery.objects.get(pk=gallery_id).store
    templates = (folder / store.TEMPLATES).read_bytes()
    assert templates[:4] == b"PFAR" and not zipfile.is_zipfile(folder / store.TEMPLATES)
    with pytest.raises(ValueError):
        np.load(folder / store.TEMPLATES, allow_pickle=False)
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert data[:4] == b"PFAR" and b"person_0" not in data and data[:2] != b"\xff\xd8", path
    assert store_for(gallery_id, folder.name).read_embeddings().shape == (7, 128)

    # -- the CLI's --server mode: keys made in the CLI process, scores decrypted there
    token = Token.objects.get(user=alice).key
    cli = subprocess.run(
        [sys.executable, "run.py", "inference", "--server", server.url, "--token", token, "--gallery", "friends",
         "--query_image", str(photo_path(PROBE[0])), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=process_env())
    assert cli.returncode == 0, cli.stderr
    remote = json.loads(cli.stdout.strip().splitlines()[-1])
    assert remote["matches"][0]["identity"] == PROBE[1] and remote["mode"] == "server"
    assert abs(remote["matches"][0]["score"] - body["matches"][0]["score"]) < 1e-3
    last = SearchAudit.objects.order_by("-id").first()
    assert (last.mode, last.matched, last.result_count) == ("encrypted", None, None)
    labels = alice_client.get(f"/api/galleries/{gallery_id}/labels/").json()
    assert labels["entries"] == 7 and sorted(labels["identities"]) == [f"person_0{i}" for i in range(7)]

    # -- enrollment from a ready dataset (extracted layout of aligned 112x112 crops), mode all
    dataset = Dataset.objects.create(owner=alice, name="crops", status="ready", images=6, identities=2)
    for name, person in enrollment_photos(["person_04", "person_05"], 3):
        target = dataset.extracted_dir / person[-1] / f"{len(list(dataset.extracted_dir.rglob('*.jpg'))) + 1}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(jpeg_of(align_face_bytes(photo(name)).crop, quality=95))
    response = alice_client.post("/api/galleries/", {"name": "from-crops", "source": "dataset",
                                                     "dataset": dataset.pk, "mode": "all"}, format="json")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: finished(response.json()["job"]["id"]), 60, "dataset enrollment")
    assert job.status == "succeeded", job.error
    crops_id = response.json()["gallery"]["id"]
    detail = alice_client.get(f"/api/galleries/{crops_id}/").json()
    assert (detail["status"], detail["mode"], detail["identities"], detail["templates"]) == ("ready", "all", 2, 6)
    result = search(alice_client, crops_id, photo("img61.jpg")).json()  # person_04, not enrolled as a crop
    assert result["matches"][0]["identity"] == "4"

    # -- an enrollment that fails leaves the gallery failed, saying why
    empty = Dataset.objects.create(owner=alice, name="hollow", status="ready")
    empty.extracted_dir.mkdir(parents=True)
    response = alice_client.post("/api/galleries/", {"name": "hollow", "source": "dataset", "dataset": empty.pk},
                                 format="json")
    job = wait_for(lambda: finished(response.json()["job"]["id"]), 60, "failing enrollment")
    failed = alice_client.get(f"/api/galleries/{response.json()['gallery']['id']}/").json()
    assert (job.status, failed["status"]) == ("failed", "failed")
    assert failed["error"] == job.error and "dataset 'hollow': no photos found" in job.error
    assert str(empty.extracted_dir) not in job.error

    # -- delete removes the files
    storage = Gallery.objects.get(pk=gallery_id).storage_dir
    assert alice_client.delete(f"/api/galleries/{gallery_id}/").status_code == 204
    assert not storage.exists()


def photo_path(name: str):
    from .helpers import FACES

    return FACES / name
