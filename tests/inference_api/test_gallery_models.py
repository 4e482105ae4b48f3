"""`POST /api/galleries/` with a registry model, without a worker: owner only (404 for
another user's, staff included), a model without an exported backbone is a 400 naming
`model`, and the gallery records the file's digest; deleting the owner deletes both."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model

from accounts.actions import create_user
from inference.models import Gallery
from tests.conftest import client_for
from training.models import TrainedModel

pytestmark = pytest.mark.django_db

CARD = {"model": {"embedding_size": 512}, "dp": {"enabled": True, "epsilon": 3.5, "delta": 1e-5,
                                                 "accountant": "rdp", "unit": "one image (example-level DP)"},
        "verification": {"threshold": 1.1, "far_threshold": 0.6}}


def model_of(owner, name: str = "m", files: bool = True) -> TrainedModel:
    model = TrainedModel.objects.create(owner=owner, name=name, card=CARD, private=True, epsilon=3.5, delta=1e-5)
    if files:
        model.export_dir.mkdir(parents=True)
        (model.export_dir / "backbone.keras").write_bytes(b"weights of " + name.encode())
    return model


def test_it_records_the_model_and_its_digest(alice, alice_client):
    model = model_of(alice)
    response = alice_client.post("/api/galleries/", {"name": "g", "source": "images", "model": model.pk},
                                 format="json")
    assert response.status_code == 201, response.content
    gallery = Gallery.objects.get(pk=response.json()["gallery"]["id"])
    assert gallery.model_id == model.pk
    assert gallery.model_digest == hashlib.sha256(b"weights of m").hexdigest()
    assert (gallery.embedder, gallery.dim) == (f"keras:{gallery.model_digest[:16]}", 512)
    body = response.json()["gallery"]
    assert body["threshold"] == 0.7  # the card's verification threshold at its FAR target: 1 - 0.6 / 2
    assert body["embedder"]["privacy"]["epsilon"] == 3.5 and body["embedder"]["source"] == "trained"
    reference = alice_client.post("/api/galleries/", {"name": "r", "source": "images"}, format="json").json()
    assert reference["gallery"]["model"] is None and reference["gallery"]["embedder"]["name"] == "dlib-resnet-v1-l2"
    # A trained model's gallery crops faces as the browser does; the reference keeps dlib's.
    assert (body["faces"], reference["gallery"]["faces"]) == ("portable", "dlib")
    assert body["private_search"] is None  # this model has no ONNX export: no private search


def test_another_users_model_is_404_even_for_staff(alice, bob_client):
    model = model_of(alice)
    for client in (bob_client, client_for(create_user("root", "root-password-1", staff=True)[0])):
        response = client.post("/api/galleries/", {"name": "g", "source": "images", "model": model.pk},
                               format="json")
        assert response.status_code == 404 and response.json()["detail"] == f"no model {model.pk}"
    assert not Gallery.objects.exists()


def test_a_model_without_a_backbone_is_a_400_naming_the_field(alice, alice_client):
    model = model_of(alice, files=False)
    response = alice_client.post("/api/galleries/", {"name": "g", "source": "images", "model": model.pk},
                                 format="json")
    assert response.status_code == 400 and "no exported backbone" in response.json()["model"][0]
    listed = alice_client.get("/api/models/").json()["results"]
    assert listed[0]["ready"] is False


def test_deleting_the_owner_deletes_models_and_galleries(alice, alice_client):
    model = model_of(alice)
    assert alice_client.post("/api/galleries/", {"name": "g", "source": "images", "model": model.pk},
                             format="json").status_code == 201
    get_user_model().objects.filter(pk=alice.pk).delete()  # RESTRICT lets the cascade through
    assert not TrainedModel.objects.exists() and not Gallery.objects.exists()
