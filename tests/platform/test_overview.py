"""``GET /api/overview/``: the dashboard's home page (issue #14: a real overview instead of
the selftest form)."""

from datasets.models import Dataset, DatasetStatus
from jobs import actions as job_actions
from training import actions


def test_it_sums_up_my_jobs_datasets_models_and_privacy(alice, alice_client, bob_client, monkeypatch):
    monkeypatch.setattr("jobs.actions.enqueue", lambda job_id, queue: None)
    data = Dataset.objects.create(owner=alice, name="casia", status=DatasetStatus.READY, images=80, identities=10)
    Dataset.objects.create(owner=alice, name="new")
    job = job_actions.create_job(alice, "selftest", {"steps": 1})
    card = {"dp": {"enabled": True, "epsilon": 2.5, "delta": 1e-5, "accountant": "rdp"}}
    actions.register_model(job, data, "dp one", card)
    actions.register_model(job, data, "dp two", {"dp": {**card["dp"], "epsilon": 1.0}})

    body = alice_client.get("/api/overview/").json()
    assert (body["jobs"]["total"], body["jobs"]["active"], body["jobs"]["recent"][0]["id"]) == (1, 1, job.pk)
    assert (body["datasets"]["total"], body["datasets"]["ready"]) == (2, 1)
    assert [d["name"] for d in body["datasets"]["recent"]] == ["new", "casia"]
    assert (body["models"]["total"], body["models"]["private"]) == (2, 2)
    assert body["privacy"] == [{"dataset": data.pk, "name": "casia", "epsilon": 3.5, "delta": 2e-5, "runs": 2}]

    other = bob_client.get("/api/overview/").json()
    assert (other["jobs"]["total"], other["datasets"]["total"], other["models"]["total"], other["privacy"]) == (
        0, 0, 0, [])


def test_it_needs_a_login(client):
    assert client.get("/api/overview/").status_code in (401, 403)
