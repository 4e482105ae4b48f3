"""A federated run with client-level DP launched through the API on a real worker: its rounds
arrive over a real websocket with per-client rows, and the model lands in the registry and
charges the dataset's ledger."""

import json
import time

import pytest
import requests
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect

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
    url = server.url.replace("http", "ws") + f"/ws/jobs/{job['id']}/"
    metrics, status = [], None
    deadline = time.monotonic() + 420
    with connect(url, additional_headers={"Authorization": f"Token {token}"}) as ws:
        while status not in ("succeeded", "failed") and time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=max(1, deadline - time.monotonic())))
            if message["type"] == "event":
                event = message["event"]
                if event["kind"] == "metric":
                    metrics.append(event["payload"])
                status = event["payload"].get("status", status) if event["kind"] == "status" else status
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
