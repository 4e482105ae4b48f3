"""Portable galleries (issue #13): a trained model's gallery detects and aligns faces with the
portable pipeline (portable_faces.py, the ONNX detector and landmarks the browser runs
identically), so a probe cropped in the browser meets templates cropped the same way.

Enrolled through the real worker, searched server-side; the gallery's ``private_search``
block names files the API serves byte for byte; a template from portable_faces' crop run by
the model's ONNX file (what the browser computes) equals the enrolled one."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from inference.models import Gallery
from tests.live import wait_for

from .helpers import enrollment_photos, finished, photo, register_with_onnx

pytestmark = pytest.mark.slow

PEOPLE = ["person_00", "person_01", "person_02", "person_03"]


def download(client, url: str) -> tuple[bytes, object]:
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content), response


def test_a_trained_model_gallery_is_portable_end_to_end(worker, trained_backbone, alice, alice_client,
                                                          bob_client, tmp_path):
    from inference.engine import portable_faces
    from inference.engine.face_image import load_image
    from inference.engine.gallery import l2_normalise
    from inference.storage import store_for
    from training.engine.onnx_export import onnx_session, run_onnx

    model = register_with_onnx(alice, trained_backbone, tmp_path, "portable dp")

    # -- portable by default for a trained model; dlib on request
    created = alice_client.post("/api/galleries/", {"name": "portable", "source": "images", "model": model.pk,
                                                    "mode": "all"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()["gallery"]
    gallery_id = body["id"]
    assert body["faces"] == "portable" and Gallery.objects.get(pk=gallery_id).faces == "portable"
    assert body["private_search"]["he_profile"] is None  # nothing enrolled yet
    dlib = alice_client.post("/api/galleries/", {"name": "dlib", "source": "images", "model": model.pk,
                                                 "faces": "dlib"}, format="json").json()["gallery"]
    assert dlib["faces"] == "dlib" and dlib["private_search"] is None

    # -- enrollment of the fixture people on the worker, calibrated as before (same photos)
    photos = enrollment_photos(PEOPLE, 3)
    files = [SimpleUploadedFile(name, photo(name), content_type="image/jpeg") for name, _ in photos]
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                                 {"files": files, "labels": [person for _, person in photos]}, format="multipart")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: finished(response.json()["job"]["id"]), 240, "portable enrollment")
    assert job.status == "succeeded", job.error
    detail = alice_client.get(f"/api/galleries/{gallery_id}/").json()
    assert (detail["status"], detail["identities"], detail["templates"], detail["skipped"]) == ("ready", 4, 12, 0)
    assert detail["calibration"]["threshold"] is not None

    # -- the private_search block: everything a browser needs, files checked by digest
    block = detail["private_search"]
    assert block["faces"]["pipeline"] == portable_faces.PIPELINE
    assert block["score_rule"] == "cosine" and block["threshold"] == detail["threshold"]
    assert block["he_profile"] == detail["he_profile"] is not None
    assert block["model"]["id"] == model.pk
    for part, name in (("detector", portable_faces.DETECTOR_FILE), ("landmarks", portable_faces.LANDMARKS_FILE)):
        entry = block["faces"][part]
        assert entry["url"] == f"/api/face-models/{name}"
        data, served = download(alice_client, entry["url"])
        assert data == (portable_faces.MODELS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] == served["X-Content-SHA256"]
        assert len(data) == entry["bytes"] and served["ETag"] == f'"{entry["sha256"]}"'
    onnx, _ = download(alice_client, block["model"]["onnx"]["url"])
    assert hashlib.sha256(onnx).hexdigest() == block["model"]["onnx"]["sha256"] == model.onnx_sha256
    assert len(onnx) == block["model"]["onnx"]["bytes"]

    # -- what the browser computes (portable crop -> the ONNX file) is the enrolled template
    enrolled = store_for(gallery_id, Gallery.objects.get(pk=gallery_id).store).read()
    session = onnx_session(onnx)
    for i, (name, person) in enumerate(photos):
        face = portable_faces.align_face(load_image(photo(name)))
        template = l2_normalise(run_onnx(session, face.crop[None]))[0]
        assert enrolled.labels[i] == person
        np.testing.assert_allclose(template, enrolled.embeddings[i], atol=1e-5, err_msg=name)

    # -- a server-side search of a fixture photo crops it the same way and finds its person
    name, person = photos[4]
    found = alice_client.post(f"/api/galleries/{gallery_id}/search/",
                              {"image": SimpleUploadedFile("probe.jpg", photo(name)), "threshold": "-1",
                               "top_k": "3"}, format="multipart")
    assert found.status_code == 200, found.content
    top = found.json()["matches"][0]
    assert top["identity"] == person and top["score"] > 0.999

    # -- the face models: authenticated, only the two names
    assert alice_client.get("/api/face-models/other.onnx").status_code == 404
    assert alice_client.get("/api/face-models/..%2Fface_models%2Ftiny_face_detector.onnx").status_code == 404
    assert bob_client.get(f"/api/face-models/{portable_faces.DETECTOR_FILE}").status_code == 200
    assert APIClient().get(f"/api/face-models/{portable_faces.DETECTOR_FILE}").status_code in (401, 403)


@pytest.mark.django_db
def test_the_reference_gallery_refuses_portable_faces(alice_client):
    refused = alice_client.post("/api/galleries/", {"name": "ref", "source": "images", "faces": "portable"},
                                format="json")
    assert refused.status_code == 400
    assert "needs dlib's face chip" in refused.json()["faces"][0]
    made = alice_client.post("/api/galleries/", {"name": "ref", "source": "images"}, format="json")
    assert made.status_code == 201
    assert made.json()["gallery"]["faces"] == "dlib" and made.json()["gallery"]["private_search"] is None
    bad = alice_client.post("/api/galleries/", {"name": "x", "source": "images", "faces": "opencv"}, format="json")
    assert bad.status_code == 400 and "faces" in bad.json()
