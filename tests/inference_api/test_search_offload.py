"""Issue #14, section 1: a browser search's CPU work (alignment, embedding, key generation,
encryption, decryption) runs in a compute process, not in the web process."""

from __future__ import annotations

import os

import pytest

from inference.engine import browser_probe

from .helpers import PROBE, make_ready_gallery, photo

pytestmark = pytest.mark.django_db


def test_the_search_computes_outside_the_web_process(alice, alice_client, monkeypatch):
    from privface_site import compute

    gallery = make_ready_gallery(alice)
    real_run, calls = compute.run, []

    def spy(fn, *args, timeout, lane="heavy"):
        calls.append((fn, lane))
        if fn is browser_probe.reference_probe:  # where it ran
            calls.append(("pid", real_run(os.getpid, timeout=timeout, lane=lane)))
        return real_run(fn, *args, timeout=timeout, lane=lane)

    monkeypatch.setattr(compute, "run", spy)
    monkeypatch.setattr("inference.search._dispatch", lambda *a: (_ for _ in ()).throw(AssertionError("stop here")))
    with pytest.raises(AssertionError, match="stop here"):
        alice_client.post(f"/api/galleries/{gallery.pk}/search/", {"image": _upload(photo(PROBE[0]))},
                          format="multipart")
    assert calls[0] == (browser_probe.reference_probe, "search")
    assert calls[1][0] == "pid" and calls[1][1] != os.getpid()


def test_a_photo_without_a_face_is_still_a_clear_422(alice, alice_client):
    from .helpers import grey_jpeg

    gallery = make_ready_gallery(alice)
    response = alice_client.post(f"/api/galleries/{gallery.pk}/search/", {"image": _upload(grey_jpeg())},
                                 format="multipart")
    assert response.status_code == 422, response.content


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("probe.jpg", data, content_type="image/jpeg")
