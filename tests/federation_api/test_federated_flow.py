"""A federated run with client-level DP launched through the API on a real worker: its rounds
arrive over a real websocket with per-client rows, and the model lands in the registry and
charges the dataset's ledger."""

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.job_stream import follow_job
from tests.training_api.test_training_flow import ready_dataset

pytestmark = pytest.mark.slow

TINY = {"num_clients": 3, "num_rounds": 2, "dp_level": "client", "noise_multiplier": 0.5, "l2_norm_clip": 5.0,
        "batch_size": 8, "image_size": 56, "embedding_size": 64, "head_type": "softmax", "optimizer": "adam",
        "lr": 0.001, "seed": 5}


def test_a_federated_run_streams_rounds_and_registers_the_model(server, worker, alice, alice_client):
    dataset_id = ready_dataset(alice_client)
    token = Token.objects.get(user=alice).key
    response = requests.post(f"{server.url}/api/federated/", json={"dataset": dataset_id, "name": "fed-dp",
                                                                    "config": TINY},
                             headers={"Authorization": f"Token {token}"})
    assert response.status_code == 202, response.text
    job = response.json()
    metrics, status = follow_job(server.url, token, job["id"], timeout=420)
    final = alice_client.get(f"/api/jobs/{job['id']}/").json()
    assert status == "succeeded", final["error"]
    assert [m["round"] for m in metrics] == [1, 2]
    assert all(len(m["clients"]) == 3 and m["replied"] == 3 for m in metrics)
    assert 0 < metrics[0]["epsilon"] < metrics[1]["epsilon"]
    model = alice_client.get(f"/api/models/{final['result']['model_id']}/").json()
    assert model["private"] is True and model["epsilon"] == pytest.approx(metrics[1]["epsilon"])
    card = model["card"]
    assert card["dp"]["level"] == "client" and "client's whole dataset" in card["dp"]["unit"]
    assert card["federation"]["clients"] == 3 and card["data"]["path"] == f"dataset {dataset_id}"
    ledger = alice_client.get(f"/api/datasets/{dataset_id}/privacy-ledger/").json()
    assert ledger["total"]["epsilon"] == pytest.approx(model["epsilon"])


@pytest.mark.timeout(900)
def test_a_job_whose_worker_dies_resumes_from_its_last_round(worker, alice):
    import os
    import signal

    from datasets.models import Dataset
    from federation import actions
    from jobs.models import Job, JobStatus
    from tests.conftest import client_for
    from tests.live import wait_for
    from tests.platform.test_worker_flow import running
    from tests.training_api.test_training_flow import ready_dataset as upload_dataset

    dataset = Dataset.objects.get(pk=upload_dataset(client_for(alice)))
    config = {**TINY, "num_rounds": 3, "dp_level": "none", "noise_multiplier": None}
    config = {k: v for k, v in config.items() if v is not None}
    job = actions.start_federated(alice, dataset, config, name="resumed")
    wait_for(lambda: running(job.pk) and job.events.filter(kind="metric").exists(), 400, "round 1 reported")
    for pid in worker.children():  # the pool process running the job; the simulation dies with it
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: Job.objects.get(pk=job.pk).is_terminal, 600, "the retried job to end")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 2
    rounds = [e.payload["round"] for e in job.events.filter(kind="metric").order_by("id")]
    assert sorted(set(rounds)) == [1, 2, 3] and rounds.count(1) == 1  # round 1 was not trained again
    assert job.result["rounds_completed"] == 3
