"""`POST /api/galleries/<id>/threshold/`: the owner's open-set threshold with its estimated
rates, a new FPIR target recalibrated from the stored score samples, back to calibrated."""

from __future__ import annotations

import pytest

from .helpers import ENROLLED_PEOPLE, enrollment_photos, make_ready_gallery

pytestmark = pytest.mark.django_db


@pytest.fixture
def gallery(alice):
    # 4 people x 3 photos: 12 x 3 = 36 impostor pairs (enough to calibrate), 12 genuine.
    return make_ready_gallery(alice, photos=enrollment_photos(ENROLLED_PEOPLE[:4], 3))


def test_it_reports_the_calibration_on_the_gallery(alice_client, gallery):
    body = alice_client.get(f"/api/galleries/{gallery.pk}/").json()
    cal = body["calibration"]
    assert (cal["impostor_pairs"], cal["genuine_pairs"], cal["gallery_size"], cal["fpir_target"]) == (36, 12, 4, 0.01)
    assert cal["method"] in ("calibrated", "tail fit") and body["threshold"] == cal["threshold"]
    assert cal["fpir"] <= 0.01 and 0 <= cal["fnir"] <= 1 and cal["fpir_upper"] >= cal["fpir"]
    assert body["threshold_override"] is None and body["fpir_target"] == 0.01


def test_it_sets_the_owners_threshold_with_its_rates_and_goes_back(alice_client, gallery):
    url = f"/api/galleries/{gallery.pk}/threshold/"
    calibrated = alice_client.get(f"/api/galleries/{gallery.pk}/").json()["threshold"]
    low = alice_client.post(url, {"threshold": 0.5}, format="json")
    assert low.status_code == 200, low.content
    body = low.json()
    assert body["threshold"] == 0.5 and body["threshold_override"] == 0.5
    override = body["calibration"]["override"]
    assert override["threshold"] == 0.5 and override["fpir"] > 0.01  # a lax threshold: strangers would match
    assert override["fnir"] == 0.0
    assert body["calibration"]["threshold"] == calibrated  # the calibration itself stays
    back = alice_client.post(url, {"threshold": None}, format="json").json()
    assert back["threshold"] == calibrated and back["threshold_override"] is None
    assert "override" not in back["calibration"]


def test_a_new_fpir_target_recalibrates_from_the_stored_scores(alice_client, gallery):
    url = f"/api/galleries/{gallery.pk}/threshold/"
    strict = alice_client.get(f"/api/galleries/{gallery.pk}/").json()["threshold"]
    lax = alice_client.post(url, {"threshold": None, "fpir_target": 0.5}, format="json").json()
    assert lax["fpir_target"] == 0.5 and lax["calibration"]["fpir_target"] == 0.5
    assert lax["threshold"] < strict and lax["calibration"]["fpir"] <= 0.5
    assert lax["version"] > gallery.version


def test_it_refuses_bad_values_and_other_users(alice_client, bob_client, gallery):
    url = f"/api/galleries/{gallery.pk}/threshold/"
    assert bob_client.post(url, {"threshold": 0.5}, format="json").status_code == 404
    bad = alice_client.post(url, {"threshold": 3}, format="json")
    assert bad.status_code == 400 and "threshold" in bad.json()
    bad = alice_client.post(url, {"threshold": None, "fpir_target": 0}, format="json")
    assert bad.status_code == 400 and "fpir_target" in bad.json()
    assert alice_client.post(url, {}, format="json").status_code == 400  # threshold is required (null allowed)
