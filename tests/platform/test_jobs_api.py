import pytest

from jobs import actions
from jobs.models import Job, JobStatus


@pytest.fixture
def alice_job(alice) -> Job:
    return actions.create_job(alice, "selftest", {"steps": 3, "step_seconds": 0.0})


@pytest.fixture
def staff_client(db):
    from accounts.actions import create_user
    from tests.conftest import client_for

    return client_for(create_user("root", "root-password-1", staff=True)[0])


def test_it_creates_a_selftest_job(staff_client):
    response = staff_client.post("/api/jobs/", {"kind": "selftest", "params": {"steps": 4}}, format="json")
    assert response.status_code == 201
    job = response.json()
    assert job["status"] == "queued"
    assert job["params"] == {"steps": 4, "step_seconds": 0.5}
    assert [e.kind for e in Job.objects.get(pk=job["id"]).events.all()] == ["status"]


def test_it_names_the_bad_parameter(staff_client):
    response = staff_client.post("/api/jobs/", {"kind": "selftest", "params": {"steps": 0}}, format="json")
    assert response.status_code == 400
    assert "steps" in response.json()["params"]


def test_it_refuses_an_unknown_kind(alice_client):
    response = alice_client.post("/api/jobs/", {"kind": "mine-bitcoin"}, format="json")
    assert response.status_code == 400
    assert "unknown job kind" in response.json()["kind"][0]


def test_it_lists_only_my_jobs(alice_client, bob_client, alice_job):
    assert [j["id"] for j in alice_client.get("/api/jobs/").json()["results"]] == [alice_job.pk]
    assert bob_client.get("/api/jobs/").json()["results"] == []


@pytest.mark.parametrize("method, suffix", [("get", ""), ("post", "cancel/"), ("get", "events/")])
def test_it_hides_other_users_jobs(bob_client, alice_job, method, suffix):
    response = getattr(bob_client, method)(f"/api/jobs/{alice_job.pk}/{suffix}")
    assert response.status_code == 404
    alice_job.refresh_from_db()
    assert alice_job.status == JobStatus.QUEUED


def test_staff_see_every_job(alice_job, db):
    from accounts.actions import create_user
    from tests.conftest import client_for

    admin, _ = create_user("root", "root-password-1", staff=True)
    assert client_for(admin).get(f"/api/jobs/{alice_job.pk}/").status_code == 200


def test_it_cancels_a_queued_job_at_once(alice_client, alice_job):
    response = alice_client.post(f"/api/jobs/{alice_job.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["finished_at"]


def test_it_lists_events_after_an_id(alice_client, alice_job):
    first = alice_client.get(f"/api/jobs/{alice_job.pk}/events/").json()
    assert [e["kind"] for e in first] == ["status"]
    alice_client.post(f"/api/jobs/{alice_job.pk}/cancel/")
    later = alice_client.get(f"/api/jobs/{alice_job.pk}/events/?after={first[-1]['id']}").json()
    assert [e["payload"]["status"] for e in later] == ["cancelled"]


@pytest.mark.django_db
def test_the_schema_is_served(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/jobs/" in response.content
