"""POST /api/galleries/<id>/warm/ and the warm tasks: a gallery's shards are encoded on the
workers before its first search (when its enrollment ends, and when the Search page opens it)."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from inference import redisio
from inference import worker as search_worker
from inference.engine import protocol
from inference.engine.he_layout import shard_ranges
from inference.models import Gallery
from inference.tasks import warm_gallery
from inference.warmup import PREFIX
from tests.live import wait_for

from .helpers import PROBE, enrollment_photos, finished, make_ready_gallery, photo, search


@pytest.fixture
def sent(monkeypatch):
    """The warm tasks sent (not run): their keyword arguments and options."""
    calls: list[dict] = []
    monkeypatch.setattr(warm_gallery, "apply_async", lambda *a, **options: calls.append(options))
    redis = redisio.client()
    stale = redis.keys(f"{PREFIX}:*")
    if stale:
        redis.delete(*stale)
    return calls


@override_settings(SEARCH_WARM_TASKS=2)
def test_it_queues_one_warm_task_per_worker_process_once_per_version(alice, alice_client, sent):
    gallery = make_ready_gallery(alice)
    answer = alice_client.post(f"/api/galleries/{gallery.pk}/warm/")
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"queued": True, "searchable": True}
    assert len(sent) == 2
    assert all(c["queue"] == "cpu" and c["kwargs"] == {"gallery_id": gallery.pk, "version": gallery.version,
                                                       "store": gallery.store, "templates": gallery.templates,
                                                       "dim": gallery.dim} for c in sent)
    # Asked again within the minute: nothing more to do.
    assert alice_client.post(f"/api/galleries/{gallery.pk}/warm/").json()["queued"] is False
    assert len(sent) == 2
    # A new version is warmed anew.
    Gallery.objects.filter(pk=gallery.pk).update(version=gallery.version + 1)
    assert alice_client.post(f"/api/galleries/{gallery.pk}/warm/").json()["queued"] is True
    assert len(sent) == 4


def test_it_refuses_another_users_gallery(alice, bob_client, sent):
    gallery = make_ready_gallery(alice)
    assert bob_client.post(f"/api/galleries/{gallery.pk}/warm/").status_code == 404
    assert sent == []


def test_it_does_nothing_for_a_gallery_without_templates(alice_client, sent):
    created = alice_client.post("/api/galleries/", {"name": "empty", "source": "images"}, format="json")
    gallery_id = created.json()["gallery"]["id"]
    answer = alice_client.post(f"/api/galleries/{gallery_id}/warm/")
    assert answer.status_code == 202 and answer.json() == {"queued": False, "searchable": False}
    assert sent == []


@override_settings(SEARCH_WARM_PER_USER_MINUTE=2)
def test_it_limits_how_many_galleries_a_user_warms_a_minute(alice, alice_client, sent):
    galleries = [make_ready_gallery(alice, name=f"g{i}") for i in range(3)]
    assert [alice_client.post(f"/api/galleries/{g.pk}/warm/").status_code for g in galleries[:2]] == [202, 202]
    refused = alice_client.post(f"/api/galleries/{galleries[2].pk}/warm/")
    assert refused.status_code == 429 and "too many galleries" in refused.json()["detail"]
    assert refused["Retry-After"] == "60"


def test_it_encodes_every_shard_once_in_the_worker_process(alice):
    gallery = make_ready_gallery(alice)
    args = {"gallery_id": gallery.pk, "version": gallery.version, "store": gallery.store,
            "templates": gallery.templates, "dim": gallery.dim}
    assert search_worker.warm_gallery(**args) == "encoded"  # a small gallery is one shard
    assert search_worker.warm_gallery(**args) == "cached"
    profile = protocol.profile_for(gallery.templates, gallery.dim, "ckks-8192")
    (start, stop), = shard_ranges(gallery.templates, profile.slots, 2)
    _, seconds, cached = search_worker._prepared(gallery.pk, gallery.version, gallery.store, profile, start, stop)
    assert cached and seconds == 0.0
    # A store that is gone (the gallery changed since) is not an error.
    assert search_worker.warm_gallery(**{**args, "store": "0000000000000000"}) == "gone"


@pytest.mark.slow
def test_the_first_search_after_enrollment_finds_its_shards_encoded(worker, alice_client):
    created = alice_client.post("/api/galleries/", {"name": "warm", "source": "images"}, format="json")
    gallery_id = created.json()["gallery"]["id"]
    photos = enrollment_photos()
    files = [SimpleUploadedFile(name, photo(name), content_type="image/jpeg") for name, _ in photos]
    response = alice_client.post(f"/api/galleries/{gallery_id}/images/",
                                 {"files": files, "labels": [person for _, person in photos]}, format="multipart")
    job = wait_for(lambda: finished(response.json()["job"]["id"]), 60, "enrollment job")
    assert job.status == "succeeded", job.error
    # The enrollment's end queued the warm tasks before this search's shard: the worker
    # process had encoded the shard when the search reached it.
    found = search(alice_client, gallery_id, photo(PROBE[0])).json()
    assert found["matches"][0]["identity"] == PROBE[1]
    assert found["server"]["server_cached"] is True, found["server"]
    assert found["server"]["server_prepare_seconds"] == 0.0


def test_a_starting_worker_warms_the_galleries_searched_last(alice, sent, settings):
    from inference.models import SearchAudit
    from inference.tasks import _warm_recent_galleries

    settings.SEARCH_WARM_ON_START = 2
    settings.SEARCH_WARM_TASKS = 2
    ancient, old, recent, newest, _ = (make_ready_gallery(alice, name=n)
                                       for n in ("ancient", "old", "recent", "newest", "never searched"))
    for gallery in (ancient, old, recent, newest):
        SearchAudit.objects.create(user=alice, gallery=gallery, gallery_name=gallery.name,
                                   gallery_version=gallery.version, mode="web")
    now = SearchAudit.objects.get(gallery=newest).time
    SearchAudit.objects.filter(gallery=ancient).update(time=now - datetime.timedelta(days=2))  # over a day ago
    SearchAudit.objects.filter(gallery=old).update(time=now - datetime.timedelta(minutes=10))  # third: over the limit
    SearchAudit.objects.filter(gallery=recent).update(time=now - datetime.timedelta(minutes=5))
    # Warmed a moment ago by a page: a restarted worker warms it all the same (its processes are empty).
    redisio.client().set(f"{PREFIX}:{newest.pk}:{newest.version}:{newest.store}", 1, ex=60)
    _warm_recent_galleries()
    assert sorted({c["kwargs"]["gallery_id"] for c in sent}) == sorted([recent.pk, newest.pk])
    assert len(sent) == 4


@pytest.mark.parametrize(("outcome", "processes", "runs"), [("cached", 2, 6), ("encoded", 2, 1), ("gone", 2, 1),
                                                              ("cached", 1, 1)])
def test_a_process_that_had_it_all_hands_the_task_back(monkeypatch, settings, outcome, processes, runs):
    # Another idle process may take it on one of the five hand-backs; with one process there is none.
    settings.SEARCH_WARM_TASKS = processes
    calls = []
    monkeypatch.setattr(search_worker, "warm_gallery", lambda **kw: calls.append(kw) or outcome)
    warm_gallery.apply(kwargs={"gallery_id": 1, "version": 1, "store": "s", "templates": 10, "dim": 4})
    assert len(calls) == runs
