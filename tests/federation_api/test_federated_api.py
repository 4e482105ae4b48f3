"""POST /api/federated/ and /api/federated/privacy/: an allow-list, 400s naming the field."""

import pytest

from datasets.models import Dataset, DatasetStatus
from jobs.models import Job

PER_IDENTITY = {str(i): 8 for i in range(10)}  # webface_tiny


@pytest.fixture
def ready_dataset(alice) -> Dataset:
    return Dataset.objects.create(owner=alice, name="tiny", status=DatasetStatus.READY, images=80, identities=10,
                                  summary={"per_identity": PER_IDENTITY})


def start(client, dataset_id, **config):
    return client.post("/api/federated/", {"dataset": dataset_id, "config": config}, format="json")


def test_it_queues_a_federated_job_on_the_gpu_queue(alice_client, ready_dataset):
    response = start(alice_client, ready_dataset.pk, num_clients=3, num_rounds=2, batch_size=8, use_dp=True)
    assert response.status_code == 202, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "federated" and job.params["config"]["num_clients"] == 3
    assert job.params["mode"] == "simulation"


@pytest.mark.parametrize("config, field", [
    ({"num_clients": 1}, "num_clients"),
    ({"num_rounds": 0}, "num_rounds"),
    ({"num_rounds": 10**9}, "num_rounds"),
    ({"num_clients": 11}, "num_clients"),  # by_identity: more clients than identities
    ({"partition": "round_robin"}, "partition"),
    ({"seed": "abc"}, "seed"),
    ({"use_dp": "yes"}, "use_dp"),
    ({"batch_size": 64}, "batch_size"),  # larger than a client's training images
    ({"head": "shared"}, "head"),  # shared needs iid
    ({"dp_level": "client", "noise_multiplier": -1}, "noise_multiplier"),
    ({"secagg": True, "dp_level": "client", "clipping": "server"}, "clipping"),  # the server never sees an update
    ({"secagg": True, "num_clients": 2}, "secagg"),
])
def test_a_bad_value_is_a_400_naming_the_field(alice_client, ready_dataset, config, field):
    response = start(alice_client, ready_dataset.pk, **{"num_clients": 3, "batch_size": 8, **config})
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Job.objects.exists()


@pytest.mark.parametrize("field", ["data_dir", "output_dir", "superlink", "resume", "extra"])
def test_server_side_fields_are_refused(alice_client, ready_dataset, field):
    response = start(alice_client, ready_dataset.pk, **{field: "x"})
    assert response.status_code == 400 and field in response.json()["detail"]


def test_another_users_dataset_is_not_found(bob_client, ready_dataset):
    assert start(bob_client, ready_dataset.pk).status_code == 404


def test_deployment_needs_a_superlink(alice_client, ready_dataset, settings):
    settings.FLOWER_SUPERLINK = ""
    response = alice_client.post("/api/federated/", {"dataset": ready_dataset.pk, "mode": "deployment"},
                                 format="json")
    assert response.status_code == 400 and "FLOWER_SUPERLINK" in response.json()["detail"]


def test_it_estimates_client_level_epsilon(alice_client, ready_dataset):
    from federation.engine.privacy import client_level_epsilon

    body = {"dataset": ready_dataset.pk, "config": {"num_clients": 5, "clients_per_round": 2, "num_rounds": 20,
                                                    "dp_level": "client", "noise_multiplier": 1.0}}
    answer = alice_client.post("/api/federated/privacy/", body, format="json").json()
    assert answer["epsilon"] == pytest.approx(client_level_epsilon(5, 2, 1.0, 20, 1e-5))
    assert "client" in answer["unit"]


def test_it_estimates_sample_level_epsilon_for_the_smallest_client(alice_client, ready_dataset):
    from federation.engine.privacy import sample_level_epsilon

    body = {"dataset": ready_dataset.pk, "config": {"num_clients": 3, "num_rounds": 4, "batch_size": 8,
                                                    "use_dp": True, "target_epsilon": 20}}
    answer = alice_client.post("/api/federated/privacy/", body, format="json").json()
    assert sorted(answer["client_sizes"]) == [21, 21, 28]  # 3, 3 and 4 identities, one of 8 images held out each
    assert answer["epsilon"] <= 20
    assert answer["epsilon"] == pytest.approx(sample_level_epsilon(21, 8, 1, 4, answer["noise_multiplier"], 1e-5))


def test_supernodes_without_a_superlink_is_an_empty_list(alice_client, settings):
    settings.FLOWER_SUPERLINK = ""
    assert alice_client.get("/api/federated/supernodes/").json() == {"superlink": None, "nodes": []}
