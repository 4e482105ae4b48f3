"""GET /api/galleries/<id>/labels/: every template's label in score order, for a key holder
that ranks its own decrypted scores (the CLI's --server mode, the browser's private search)."""

from __future__ import annotations

from .helpers import make_ready_gallery


def test_it_lists_labels_identities_and_the_embedder(alice, alice_client):
    gallery = make_ready_gallery(alice)
    body = alice_client.get(f"/api/galleries/{gallery.pk}/labels/").json()
    assert body["version"] == gallery.version and body["entries"] == len(body["labels"]) == gallery.templates
    assert sorted(body["identities"]) == sorted(set(body["labels"]))
    assert set(body["photos"]) == set(body["identities"]) and body["embedder"]["name"] == gallery.embedder
    assert body["score"] == "cosine" and "sq_norms" not in body  # the older reference rule (Euclidean adds sq_norms)


def test_it_answers_only_what_ranking_needs(alice, alice_client):
    gallery = make_ready_gallery(alice)
    full = alice_client.get(f"/api/galleries/{gallery.pk}/labels/").json()
    ranking = alice_client.get(f"/api/galleries/{gallery.pk}/labels/?fields=ranking").json()
    assert set(ranking) == {"version", "entries", "labels", "score"}
    assert all(ranking[key] == full[key] for key in ranking)


def test_it_refuses_other_fields(alice, alice_client):
    gallery = make_ready_gallery(alice)
    answer = alice_client.get(f"/api/galleries/{gallery.pk}/labels/?fields=photos")
    assert answer.status_code == 400 and "ranking" in answer.json()["fields"][0]


def test_it_is_the_owners(alice, bob_client):
    gallery = make_ready_gallery(alice)
    assert bob_client.get(f"/api/galleries/{gallery.pk}/labels/?fields=ranking").status_code == 404
