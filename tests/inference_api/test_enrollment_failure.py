"""An enrollment job's end writes the gallery's terminal state once, through the job kind's
on_finish hook (inference.actions.enrollment_ended), in the transaction that ends the job: a
failing handler only raises (#14), a succeeding one only stores the templates (#12)."""

from __future__ import annotations

import shutil

import pytest

from datasets.models import Dataset
from inference import actions
from inference.models import Gallery
from jobs import runner
from jobs.models import Job

from .helpers import make_ready_gallery, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def saves(monkeypatch):
    """Every write of a gallery row through inference.actions."""
    calls = []
    original = actions._save

    def spy(gallery, *fields):
        calls.append((gallery.pk, gallery.status, fields))
        return original(gallery, *fields)

    monkeypatch.setattr(actions, "_save", spy)
    return calls


def test_it_fails_a_gallery_without_templates_with_one_write(alice, saves):
    empty = Dataset.objects.create(owner=alice, name="hollow", status="ready")
    empty.extracted_dir.mkdir(parents=True)
    gallery, job = actions.create_gallery(alice, name="hollow", source="dataset", mode="mean", dataset=empty,
                                          embedder={"name": "dlib-resnet-v1", "dim": 128})
    saves.clear()
    runner.execute(job.pk, "test-worker")
    job = Job.objects.get(pk=job.pk)
    gallery.refresh_from_db()
    assert job.status == "failed" and "no photos found" in job.error
    assert (gallery.status, gallery.error) == ("failed", job.error)
    assert saves == [(gallery.pk, "failed", ("status", "error"))]


def test_a_failed_batch_keeps_earlier_templates_with_one_write(alice, saves):
    gallery = make_ready_gallery(alice)
    job = actions.add_photos(gallery, [])
    shutil.rmtree(gallery.incoming_dir / job.params["batch"])  # the batch is lost: the job crashes
    saves.clear()
    runner.execute(job.pk, "test-worker")
    job = Job.objects.get(pk=job.pk)
    gallery = Gallery.objects.get(pk=gallery.pk)
    assert job.status == "failed"
    assert gallery.status == "ready" and "keeps its earlier templates" in gallery.error
    assert saves == [(gallery.pk, "ready", ("status", "error"))]


def test_a_finished_batch_is_ready_with_the_job_in_one_write(alice, saves, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    gallery = make_ready_gallery(alice)
    job = actions.add_photos(gallery, [(SimpleUploadedFile("img26.jpg", photo("img26.jpg")), "person_09")])
    original = actions.enrollment_ended
    job_status_seen = []
    monkeypatch.setattr(actions, "enrollment_ended",
                        lambda ended: job_status_seen.append(Job.objects.get(pk=ended.pk).status) or original(ended))
    saves.clear()
    with django_capture_on_commit_callbacks(execute=True):
        runner.execute(job.pk, "test-worker")
    job = Job.objects.get(pk=job.pk)
    gallery = Gallery.objects.get(pk=gallery.pk)
    assert job.status == "succeeded" and job_status_seen == ["succeeded"]
    assert (gallery.status, gallery.error, gallery.identities) == ("ready", "", 3)
    assert [(status, "status" in fields) for _, status, fields in saves] == [("enrolling", False), ("ready", True)]
    assert not (gallery.incoming_dir / job.params["batch"]).exists()
