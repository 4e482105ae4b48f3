"""Input checks of the gallery and search API that need no worker: bad photos, other
users, validation, public-context registration, no worker at all (504)."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.engine import he_wire
from inference.engine.he_client import PUBLIC_CONTEXT, HEClient
from inference.engine.he_layout import SearchProfile
from inference.engine.he_params import PRESETS
from inference.models import SearchAudit

from .helpers import grey_jpeg, make_ready_gallery, photo, png_bomb

pytestmark = pytest.mark.django_db


@pytest.fixture
def gallery(alice):
    return make_ready_gallery(alice)


def search(client, gallery_id: int, data: bytes, name: str = "probe.jpg", **extra):
    return client.post(f"/api/galleries/{gallery_id}/search/",
                       {"image": SimpleUploadedFile(name, data), **extra}, format="multipart")


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"name,identity\nalice,person_00\n", 415, "not a supported image"),
    (b"GIF89a" + b"\0" * 64, 415, "not a supported image"),
    (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, 400, "damaged"),
    (png_bomb(), 400, "limit"),
    (grey_jpeg(), 422, "no face"),
], ids=["text", "gif", "garbage", "bomb", "no-face"])
def test_bad_photos_are_refused_before_anything_is_encrypted(alice_client, gallery, data, status, words):
    response = search(alice_client, gallery.pk, data)
    assert response.status_code == status, response.content
    assert words in response.json()["detail"]
    assert not SearchAudit.objects.exists()


def test_validation_errors_name_the_field(alice_client, gallery):
    assert "image" in alice_client.post(f"/api/galleries/{gallery.pk}/search/", {}, format="multipart").json()
    response = search(alice_client, gallery.pk, photo("img43.jpg"), top_k=0)
    assert response.status_code == 400 and "top_k" in response.json()
    response = search(alice_client, gallery.pk, photo("img43.jpg"), threshold=3)
    assert response.status_code == 400 and "threshold" in response.json()

    response = alice_client.post("/api/galleries/", {"name": "x", "source": "dataset"}, format="json")
    assert response.status_code == 400 and "dataset" in response.json()
    response = alice_client.post("/api/galleries/", {"name": gallery.name, "source": "images"}, format="json")
    assert response.status_code == 400 and "name" in response.json()
    response = alice_client.post("/api/galleries/", {"name": "y", "source": "camera"}, format="json")
    assert response.status_code == 400 and "source" in response.json()
    response = alice_client.post("/api/galleries/", {"name": "z", "source": "images", "mode": "median"}, format="json")
    assert response.status_code == 400 and "mode" in response.json()

    empty = alice_client.post("/api/galleries/", {"name": "empty", "source": "images"}, format="json")
    assert empty.status_code == 201 and empty.json()["gallery"]["status"] == "empty"
    assert empty.json()["job"] is None
    gallery_id = empty.json()["gallery"]["id"]
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                                 {"files": [SimpleUploadedFile("a.jpg", photo("img1.jpg"))]}, format="multipart")
    assert response.status_code == 400 and "labels" in response.json()
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                                 {"files": [SimpleUploadedFile("a.jpg", photo("img1.jpg"))], "labels": ["a/b"]},
                                 format="multipart")
    assert response.status_code == 400 and "labels" in response.json()
    assert alice_client.post(f"/api/galleries/{gallery_id}/images/", {}, format="multipart").json().keys() == {"files"}
    response = search(alice_client, gallery_id, photo("img43.jpg"))
    assert response.status_code == 409 and "no templates" in response.json()["detail"]


def test_another_users_gallery_is_404_everywhere(alice_client, bob_client, gallery):
    base = f"/api/galleries/{gallery.pk}"
    assert bob_client.get(f"{base}/").status_code == 404
    assert bob_client.get("/api/galleries/").json()["count"] == 0
    assert search(bob_client, gallery.pk, photo("img43.jpg")).status_code == 404
    assert bob_client.get(f"{base}/audit/").status_code == 404
    assert bob_client.get(f"{base}/labels/").status_code == 404
    assert bob_client.get(f"{base}/identities/person_00/thumbnail/").status_code == 404
    assert bob_client.post(f"{base}/encrypted-search/?key_id=x", b"q",
                           content_type="application/octet-stream").status_code == 404
    assert bob_client.post(f"{base}/images/", {}, format="multipart").status_code == 404
    assert bob_client.delete(f"{base}/").status_code == 404
    # The owner sees it all.
    assert alice_client.get(f"{base}/").json()["embedder"]["private"] is False
    thumb = alice_client.get(f"{base}/identities/person_00/thumbnail/")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert alice_client.get(f"{base}/identities/nobody/thumbnail/").status_code == 404
    assert alice_client.get(f"/api/galleries/?name={gallery.name}").json()["count"] == 1
    assert alice_client.get("/api/galleries/?name=other").json()["count"] == 0


def test_no_worker_means_a_clear_504(alice_client, gallery, settings):
    settings.SEARCH_TIMEOUT_SECONDS = 1
    response = search(alice_client, gallery.pk, photo("img43.jpg"))
    assert response.status_code == 504
    assert "no search worker answered within 1 s" in response.json()["detail"]


def test_public_context_registration_refuses_secrets_and_weak_parameters(alice_client, gallery):
    detail = alice_client.get(f"/api/galleries/{gallery.pk}/").json()
    profile = SearchProfile.from_dict(detail["he_profile"])
    client = HEClient(profile)

    def post(body: bytes):
        return alice_client.post("/api/he/contexts/", body, content_type="application/octet-stream")

    assert post(client.export_private()).status_code == 400
    _, private_sections = he_wire.unpack(client.export_private(), "private_key")
    disguised = he_wire.pack(PUBLIC_CONTEXT, {"profile": profile.to_dict()}, [private_sections[0]])
    response = post(disguised)
    assert response.status_code == 400 and "secret key" in response.json()["detail"]
    weak = {**profile.to_dict(), "params": {**PRESETS["ckks-4096"].to_dict(), "coeff_bits": [60, 60]}}
    response = post(he_wire.pack(PUBLIC_CONTEXT, {"profile": weak}, []))
    assert response.status_code == 400 and "128-bit" in response.json()["detail"]
    assert post(b"").status_code == 400
    assert post(b"garbage").status_code == 400

    response = post(client.public_context())
    assert response.status_code == 201
    assert response.json()["key_id"] == client.key_id

    search_url = f"/api/galleries/{gallery.pk}/encrypted-search/"
    query = client.encrypt_query(np.ones(profile.dim))
    unknown = alice_client.post(f"{search_url}?key_id=feedface", query, content_type="application/octet-stream")
    assert unknown.status_code == 400 and "key_id" in unknown.json()["detail"]
    other = HEClient(SearchProfile.for_gallery(1, 128, PRESETS["ckks-4096"]))
    assert post(other.public_context()).status_code == 201
    mismatch = alice_client.post(f"{search_url}?key_id={other.key_id}", other.encrypt_query(
        np.ones(128)), content_type="application/octet-stream")
    assert mismatch.status_code == 409
    wrong = alice_client.post(f"{search_url}?key_id={client.key_id}", b"PFHE garbage",
                              content_type="application/octet-stream")
    assert wrong.status_code == 400


def test_labelled_photos_wait_encrypted_for_their_job(alice_client):
    import json

    from inference.models import Gallery

    gallery_id = alice_client.post("/api/galleries/", {"name": "csv", "source": "images"}, format="json"
                                   ).json()["gallery"]["id"]
    sheet = SimpleUploadedFile("labels.csv", b"file,identity\nimg1.jpg,person_00\nx/img26.jpg,person_01\n")
    files = [SimpleUploadedFile("img1.jpg", photo("img1.jpg")), SimpleUploadedFile("img26.jpg", photo("img26.jpg"))]
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/", {"files": files, "labels_csv": sheet},
                                 format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["gallery"]["status"] == "enrolling" and body["job"]["kind"] == "gallery_enroll"
    batch = Gallery.objects.get(pk=gallery_id).incoming_dir / body["job"]["params"]["batch"]
    manifest = json.loads((batch / "photos.json").read_text())
    assert [(p["name"], p["label"]) for p in manifest] == [("img1.jpg", "person_00"), ("img26.jpg", "person_01")]
    assert all((batch / p["file"]).stat().st_mode & 0o777 == 0o600 for p in manifest)
    again = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                              {"files": [SimpleUploadedFile("a.jpg", photo("img1.jpg"))], "labels": ["a"]},
                              format="multipart")
    assert again.status_code == 409 and "still enrolling" in again.json()["detail"]


def test_a_bad_labels_csv_is_a_400_on_its_field(alice_client):
    gallery_id = alice_client.post("/api/galleries/", {"name": "bad-csv", "source": "images"}, format="json"
                                   ).json()["gallery"]["id"]
    files = [SimpleUploadedFile("img1.jpg", photo("img1.jpg"))]
    for sheet, message in ((b"name,person\nimg1.jpg,a\n", "the first line must be the header file,identity"),
                           (b"file,identity\nimg1.jpg,a/b\n", "line 2: label 'a/b' must be at most"),
                           (b"file,identity\nother.jpg,a\n", "no row for img1.jpg")):
        response = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                                     {"files": files, "labels_csv": SimpleUploadedFile("labels.csv", sheet)},
                                     format="multipart")
        assert response.status_code == 400, response.content
        assert response.json()["labels_csv"][0].startswith(message)
