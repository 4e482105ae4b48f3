"""`POST /api/galleries/<id>/images/` with `background=true`: photos of people who are not
enrolled calibrate the threshold (measured stranger rate) without becoming identities."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.models import Gallery
from jobs import runner
from jobs.models import Job

from .helpers import ENROLLED_PEOPLE, enrollment_photos, labelled, make_ready_gallery, photo

pytestmark = pytest.mark.django_db


def test_background_photos_only_calibrate(alice, alice_client):
    gallery = make_ready_gallery(alice, photos=enrollment_photos(ENROLLED_PEOPLE[:4], 3))
    before = alice_client.get(f"/api/galleries/{gallery.pk}/").json()
    strangers = [name for name, person in labelled() if person == "person_07"]  # never enrolled
    files = [SimpleUploadedFile(name, photo(name), content_type="image/jpeg") for name in strangers]
    response = alice_client.post(f"/api/galleries/{gallery.pk}/images/", {"files": files, "background": "true"},
                                 format="multipart")  # no labels needed
    assert response.status_code == 202, response.content
    runner.execute(response.json()["job"]["id"], "test-worker")  # the enrollment job, in this process
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.status == "succeeded", job.error
    after = alice_client.get(f"/api/galleries/{gallery.pk}/").json()
    assert (after["identities"], after["templates"], after["photos"]) == (4, 4, before["photos"])
    cal = after["calibration"]
    assert cal["strangers"] == len(strangers) == 4 and cal["stranger_fpir"] == 0.0
    assert cal["impostor_pairs"] == before["calibration"]["impostor_pairs"] + 4 * 4  # each against 4 templates
    assert Gallery.objects.get(pk=gallery.pk).version > gallery.version


def test_background_needs_enrolled_people_first(alice, alice_client):
    created = alice_client.post("/api/galleries/", {"name": "empty", "source": "images"}, format="json").json()
    files = [SimpleUploadedFile("a.jpg", photo("img38.jpg"), content_type="image/jpeg")]
    response = alice_client.post(f"/api/galleries/{created['gallery']['id']}/images/",
                                 {"files": files, "background": "true"}, format="multipart")
    assert response.status_code == 409 and "enroll people before background photos" in response.json()["detail"]
