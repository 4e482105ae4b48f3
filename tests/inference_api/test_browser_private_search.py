"""Issue #13 end to end in Debian's Chromium: the Search page's private mode. A gallery of a
trained model (portable faces, enrolled on the real worker) is searched with a fixture photo
that the page's worker decodes, aligns, embeds and encrypts; the right person comes first,
the same as a server-side search of the same photo. From the server side: the only uploads
of the private search are the public context and the query ciphertext (neither holds the
photo), and its audit row knows no result."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.actions import create_user
from inference.models import Gallery, SearchAudit
from jobs.models import Job
from tests.live import ROOT, wait_for

from .helpers import FACES, enrollment_photos, photo, register_with_onnx

PEOPLE = ["person_00", "person_01", "person_02", "person_03"]


def run_page(server, gallery_id: int, probe: str, tmp_path) -> dict:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    assert (ROOT / "frontend" / "dist" / "index.html").exists(), "the dashboard is not built"
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="pia", PRIVFACE_PASSWORD="pia-password-1",
               GALLERY_ID=str(gallery_id), PHOTO=str(FACES / probe), OUT_JSON=str(tmp_path / "out.json"),
               SCREENSHOT_DIR=str(ROOT / "var" / "screenshots"), CHROMIUM_PATH=chromium)
    out = subprocess.run(["node", "e2e/private_search.e2e.mjs"], cwd=ROOT / "frontend", env=env,
                         capture_output=True, text=True, timeout=600)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    return json.loads((tmp_path / "out.json").read_text())


@pytest.mark.django_db
def test_a_logged_in_browser_posts_he_payloads_with_its_session_and_csrf_token(alice):
    """DRF's CSRF check reads request.POST, which parsed an octet-stream body: a 415 for every
    session upload before RawBodyParser. Now the payload reaches the view (a 400 naming it)."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/api/auth/csrf/")
    token = client.cookies["csrftoken"].value
    refused = client.post("/api/he/contexts/", b"not a payload", content_type="application/octet-stream")
    assert refused.status_code == 403  # no token: still CSRF-checked
    for url in ("/api/he/contexts/", "/api/galleries/999999/encrypted-search/?key_id=x"):
        response = client.post(url, b"not a payload", content_type="application/octet-stream",
                               HTTP_X_CSRFTOKEN=token)
        assert response.status_code in (400, 404), (url, response.status_code, response.content)
        assert "media type" not in response.json()["detail"]


@pytest.mark.slow
@pytest.mark.e2e
def test_a_private_search_in_the_browser_finds_the_person_and_sends_no_photo(server, worker, trained_backbone,
                                                                             transactional_db, tmp_path):
    user, _ = create_user("pia", "pia-password-1")
    client = APIClient()
    client.force_authenticate(user)
    model = register_with_onnx(user, trained_backbone, tmp_path, "browser dp")
    created = client.post("/api/galleries/", {"name": "private", "source": "images", "model": model.pk, "mode": "all"},
                          format="json")
    assert created.status_code == 201, created.content
    gallery_id = created.json()["gallery"]["id"]
    photos = enrollment_photos(PEOPLE, 3)
    files = [SimpleUploadedFile(name, photo(name), content_type="image/jpeg") for name, _ in photos]
    response = client.post(f"/api/galleries/{gallery_id}/images/",
                           {"files": files, "labels": [person for _, person in photos]}, format="multipart")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: (j := Job.objects.get(pk=response.json()["job"]["id"])).is_terminal and j, 240,
                   "enrollment")
    assert job.status == "succeeded", job.error
    block = client.get(f"/api/galleries/{gallery_id}/").json()["private_search"]
    assert block and block["he_profile"], block

    # A one-epoch model cannot tell new photos of these people apart: the probe is an enrolled
    # photo (one template per photo), so the loop is under test, not the model.
    probe, person = photos[4]
    assert person == "person_01"
    result = run_page(server, gallery_id, probe, tmp_path)

    assert result["private"]["identity"] == person == result["server"]["identity"]
    assert result["private"]["score"] == pytest.approx(result["server"]["score"], abs=0.02)

    requests = result["requests"]
    private = [r for r in requests if r["phase"] == "private"]
    uploads = [r for r in private if r["method"] not in ("GET", "HEAD")]
    assert [(r["method"], r["path"]) for r in uploads] == [
        ("POST", "/api/he/contexts/"), ("POST", f"/api/galleries/{gallery_id}/encrypted-search/")]
    assert all(r["head"] == b"PFHE".hex() and r["content_type"] == "application/octet-stream" for r in uploads)
    # Their bodies were read whole (Playwright sees memory-backed bodies, not file-backed ones,
    # so the server-side multipart upload cannot be checked the same way) and hold no photo bytes.
    assert all(r["bytes"] > 1000 and not r["has_photo"] for r in uploads)
    assert not any(r["has_photo"] for r in requests)
    server_side = [r for r in requests if r["phase"] == "server" and r["method"] == "POST"]
    assert [r["path"] for r in server_side] == [f"/api/galleries/{gallery_id}/search/"]
    assert server_side[0]["content_type"].startswith("multipart/form-data")
    # Opening the gallery warmed it: the workers were asked to encode it (no body) and the
    # page's worker fetched the face models and the model file before the photo was chosen.
    opened = [r for r in requests if r["phase"] == "open" and r["method"] not in ("GET", "HEAD")]
    assert [(r["method"], r["path"], r["bytes"]) for r in opened] == [("POST", f"/api/galleries/{gallery_id}/warm/", 0)]
    # Nothing came from another origin.
    fetched = {r["path"] for r in requests if r["phase"] in ("open", "private") and r["method"] == "GET"}
    assert {block["faces"]["detector"]["url"], block["faces"]["landmarks"]["url"], block["model"]["onnx"]["url"],
            f"/api/galleries/{gallery_id}/labels/"} <= fetched

    # The server's own record: the private search knows no result, the server-side one does.
    audits = list(SearchAudit.objects.filter(gallery_id=gallery_id).order_by("time", "id"))
    assert [a.mode for a in audits] == [SearchAudit.Mode.ENCRYPTED, SearchAudit.Mode.WEB]
    assert audits[0].result_count is None and audits[0].matched is None
    assert audits[1].matched is True
    assert Gallery.objects.get(pk=gallery_id).status == "ready"
