"""Issue #14, section 5: HE search contexts belong to the user who registered them, and a
context damaged in transit (one flipped byte) is refused on upload."""

from __future__ import annotations

import pytest

from inference.engine import he_wire
from inference.engine.he_client import PUBLIC_CONTEXT, HEClient
from inference.engine.he_layout import SearchProfile

from .helpers import make_ready_gallery

pytestmark = pytest.mark.django_db


def post_context(client, body: bytes):
    return client.post("/api/he/contexts/", body, content_type="application/octet-stream")


@pytest.fixture
def profile(alice, alice_client) -> SearchProfile:
    gallery = make_ready_gallery(alice)
    return SearchProfile.from_dict(alice_client.get(f"/api/galleries/{gallery.pk}/").json()["he_profile"])


def test_another_users_key_id_finds_nothing(alice_client, bob, bob_client, profile):
    client = HEClient(profile)
    key_id = post_context(alice_client, client.public_context()).json()["key_id"]
    bobs = make_ready_gallery(bob, name="bobs")
    query = client.encrypt_query([0.1] * profile.dim)
    response = bob_client.post(f"/api/galleries/{bobs.pk}/encrypted-search/?key_id={key_id}", query,
                               content_type="application/octet-stream")
    assert response.status_code == 400
    assert "is unknown or expired" in response.json()["detail"]


def test_a_context_with_a_flipped_byte_is_refused(alice_client, profile):
    body = bytearray(HEClient(profile).public_context())
    body[len(body) // 2] ^= 0x01  # inside the Galois keys
    response = post_context(alice_client, bytes(body))
    assert response.status_code == 400
    assert "damaged" in response.json()["detail"]


def test_a_context_without_a_checksum_is_refused(alice_client, profile):
    header, sections = he_wire.unpack(HEClient(profile).public_context(), PUBLIC_CONTEXT)
    header.pop("kind")
    legacy = he_wire.pack(PUBLIC_CONTEXT, header, sections).replace(b'"sha256"', b'"sha000"')  # an old client
    response = post_context(alice_client, legacy)
    assert response.status_code == 400
    assert "sha256" in response.json()["detail"]
