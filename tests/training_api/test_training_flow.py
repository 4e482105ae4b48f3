"""A tiny DP training run launched through the API on a real worker; its epoch events
arrive over a real websocket, and the model lands in the registry and the ledger."""


import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.datasets_api.helpers import WEBFACE, upload
from tests.job_stream import follow_job
from tests.live import wait_for

pytestmark = pytest.mark.slow

TINY_DP = {"use_dp": True, "noise_multiplier": 1.0, "epochs": 1, "batch_size": 16, "model": "mobilefacenet",
           "head": "softmax", "embedding_size": 64, "image_size": 56}


def ready_dataset(client) -> int:
    dataset_id = client.post("/api/datasets/", {"name": "tiny"}, format="json").json()["id"]
    for name in ("train.rec", "train.idx", "train.lst", "lfw_tiny.bin"):
        upload(client, dataset_id, name, (WEBFACE / name).read_bytes(), chunk_size=1 << 20)
    client.post(f"/api/datasets/{dataset_id}/finalize/")
    wait_for(lambda: client.get(f"/api/datasets/{dataset_id}/").json()["status"] == "ready", 60, "dataset ready")
    return dataset_id


def test_a_dp_run_streams_epochs_and_registers_the_model(server, worker, alice, alice_client):
    dataset_id = ready_dataset(alice_client)
    token = Token.objects.get(user=alice).key
    response = requests.post(f"{server.url}/api/training/", json={"dataset": dataset_id, "name": "tiny-dp",
                                                                   "config": TINY_DP},
                             headers={"Authorization": f"Token {token}"})
    assert response.status_code == 202, response.text
    job = response.json()
    metrics, status = follow_job(server.url, token, job["id"], timeout=240)
    final = alice_client.get(f"/api/jobs/{job['id']}/").json()
    assert status == "succeeded", final["error"]
    assert len(metrics) == 1 and metrics[0]["epoch"] == 1
    assert metrics[0]["epsilon"] > 0 and metrics[0]["verification_accuracy"] is not None
    model = alice_client.get(f"/api/models/{final['result']['model_id']}/").json()
    assert model["private"] is True and model["epsilon"] == pytest.approx(metrics[0]["epsilon"])
    assert model["card"]["dp"]["noise_multiplier"] == 1.0
    ledger = alice_client.get(f"/api/datasets/{dataset_id}/privacy-ledger/").json()
    assert ledger["total"]["epsilon"] == pytest.approx(model["epsilon"])
    download = alice_client.get(f"/api/models/{model['id']}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
