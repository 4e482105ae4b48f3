"""Issue #14, section 3: selftest jobs are staff-only; a user's queued jobs have a quota."""

from __future__ import annotations

from jobs import actions
from jobs.models import Job, JobStatus


def test_it_refuses_a_selftest_from_a_user(alice_client):
    response = alice_client.post("/api/jobs/", {"kind": "selftest", "params": {"steps": 1000, "step_seconds": 10}},
                                 format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": "only staff may start selftest jobs"}
    assert not Job.objects.exists()


def test_it_caps_the_jobs_a_user_has_waiting(alice, alice_client, settings, monkeypatch):
    monkeypatch.setattr("jobs.actions.enqueue", lambda job_id, queue: None)
    settings.JOB_MAX_QUEUED_PER_USER = 3
    jobs = [actions.create_job(alice, "selftest", {"steps": 1}) for _ in range(3)]
    from datasets.models import Dataset, DatasetStatus

    ready = Dataset.objects.create(owner=alice, name="r", status=DatasetStatus.READY, images=80, identities=2)
    refused = alice_client.post("/api/training/", {"dataset": ready.pk, "config": {"batch_size": 8}}, format="json")
    assert refused.status_code == 429
    assert "you already have 3 jobs waiting to run (the limit is 3)" in refused.json()["detail"]
    # one starts (or is cancelled): room again
    actions.request_cancel(jobs[0].pk)
    assert Job.objects.filter(owner=alice, status=JobStatus.QUEUED).count() == 2
    again = alice_client.post("/api/training/", {"dataset": ready.pk, "config": {"batch_size": 8}}, format="json")
    assert again.status_code == 202, again.content


def test_the_quota_is_per_user(alice, bob, settings, monkeypatch):
    monkeypatch.setattr("jobs.actions.enqueue", lambda job_id, queue: None)
    settings.JOB_MAX_QUEUED_PER_USER = 1
    actions.create_job(alice, "selftest", {"steps": 1})
    assert actions.create_job(bob, "selftest", {"steps": 1}).status == JobStatus.QUEUED


def test_a_browser_session_can_start_a_job(db, client, monkeypatch):
    # request.user is a lazy object under session authentication (the dashboard)
    from accounts.actions import create_user

    monkeypatch.setattr("jobs.actions.enqueue", lambda job_id, queue: None)
    create_user("root", "root-password-1", staff=True)
    assert client.login(username="root", password="root-password-1")
    response = client.post("/api/jobs/", {"kind": "selftest", "params": {"steps": 1}}, content_type="application/json")
    assert response.status_code == 201, response.content
