import pytest

from datasets.models import Dataset, DatasetStatus
from training import actions
from training.models import PrivacySpend, TrainedModel


@pytest.fixture
def ready_dataset(alice) -> Dataset:
    return Dataset.objects.create(owner=alice, name="tiny", status=DatasetStatus.READY, images=80, identities=10)


def test_it_estimates_epsilon(alice_client):
    from training.engine.accounting import compute_epsilon

    body = {"num_examples": 60000, "batch_size": 256, "epochs": 15, "noise_multiplier": 1.1, "delta": 1e-5}
    response = alice_client.post("/api/privacy/", body, format="json")
    assert response.status_code == 200
    assert response.json()["epsilon"] == pytest.approx(compute_epsilon(60000, 256, 15, 1.1, 1e-5))


def test_it_calibrates_the_noise_for_a_target(alice_client):
    body = {"num_examples": 60000, "batch_size": 256, "epochs": 15, "target_epsilon": 3.0, "delta": 1e-5}
    result = alice_client.post("/api/privacy/", body, format="json").json()
    assert 0.99 * 3.0 <= result["epsilon"] <= 3.0
    assert result["noise_multiplier"] > 0


@pytest.mark.parametrize("change, field", [
    ({"batch_size": 0}, "batch_size"),
    ({"delta": 1.0}, "delta"),
    ({"noise_multiplier": None}, "noise_multiplier"),
    ({"batch_size": 70000}, "batch_size"),
])
def test_privacy_errors_name_the_field(alice_client, change, field):
    body = {"num_examples": 60000, "batch_size": 256, "epochs": 15, "noise_multiplier": 1.1, "delta": 1e-5}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    response = alice_client.post("/api/privacy/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_it_queues_a_training_run_on_the_gpu_queue(alice_client, ready_dataset, monkeypatch):
    sent = []
    monkeypatch.setattr("jobs.actions.enqueue", lambda job_id, queue: sent.append(queue))
    from django.db import transaction

    config = {"use_dp": True, "noise_multiplier": 1.0, "epochs": 1, "batch_size": 8}
    with transaction.atomic():
        response = alice_client.post("/api/training/", {"dataset": ready_dataset.pk, "config": config}, format="json")
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["kind"], job["status"]) == ("train", "queued")
    assert job["params"]["config"] == config


@pytest.mark.parametrize("config, field", [
    ({"epochs": 0}, "--epochs"),
    ({"batch_size": -1}, "--batch_size"),
    ({"model": "alexnet"}, "--model"),
    ({"use_dp": True, "delta": 2}, "--delta"),
    ({"output_dir": "/etc"}, "output_dir"),
    ({"frobnicate": 1}, "frobnicate"),
])
def test_bad_training_parameters_are_named(alice_client, ready_dataset, config, field):
    response = alice_client.post("/api/training/", {"dataset": ready_dataset.pk, "config": config}, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]


def test_a_dataset_that_is_not_ready_is_refused(alice_client, alice):
    dataset = Dataset.objects.create(owner=alice, name="new")
    response = alice_client.post("/api/training/", {"dataset": dataset.pk, "config": {}}, format="json")
    assert response.status_code == 409


def test_other_users_datasets_are_404(bob_client, ready_dataset):
    assert bob_client.post("/api/training/", {"dataset": ready_dataset.pk}, format="json").status_code == 404
    assert bob_client.get(f"/api/datasets/{ready_dataset.pk}/privacy-ledger/").status_code == 404


def test_the_registry_and_the_ledger(alice_client, bob_client, ready_dataset, alice):
    from jobs.actions import create_job

    job = create_job(alice, "selftest", {})
    card = {"dp": {"enabled": True, "epsilon": 2.5, "delta": 1e-5, "accountant": "rdp"},
            "verification": {"accuracy": 0.9}, "membership_inference": {"auc": 0.52}}
    model = actions.register_model(job, ready_dataset, "m1", card)
    actions.register_model(job, ready_dataset, "m2", {**card, "dp": {**card["dp"], "epsilon": 1.5}})
    listed = alice_client.get("/api/models/").json()["results"]
    assert [(m["name"], m["epsilon"], m["mia_auc"]) for m in listed] == [("m2", 1.5, 0.52), ("m1", 2.5, 0.52)]
    assert alice_client.get(f"/api/models/{model.pk}/").json()["card"]["verification"]["accuracy"] == 0.9
    assert bob_client.get(f"/api/models/{model.pk}/").status_code == 404
    ledger = alice_client.get(f"/api/datasets/{ready_dataset.pk}/privacy-ledger/").json()
    assert ledger["total"]["epsilon"] == pytest.approx(4.0)
    assert len(ledger["entries"]) == 2
    assert alice_client.delete(f"/api/models/{model.pk}/").status_code == 204
    assert not TrainedModel.objects.filter(pk=model.pk).exists()
    assert PrivacySpend.objects.count() == 2  # spent is spent


def test_a_model_without_dp_spends_nothing(ready_dataset, alice):
    from jobs.actions import create_job

    model = actions.register_model(create_job(alice, "selftest", {}), ready_dataset, "plain",
                                   {"dp": {"enabled": False}})
    assert (model.private, model.epsilon) == (False, None)
    assert PrivacySpend.objects.count() == 0


def test_an_indexed_dataset_trains_from_its_rec(alice):
    from datasets.models import DatasetFile

    dataset = Dataset.objects.create(owner=alice, name="rec", status=DatasetStatus.READY, extract_images=False)
    rec = DatasetFile.objects.create(dataset=dataset, role="rec", filename="train.rec", size=1, sha256="0" * 64)
    idx = DatasetFile.objects.create(dataset=dataset, role="idx", filename="train.idx", size=1, sha256="0" * 64)
    config = actions.build_config(dataset, {"epochs": 1})
    assert (config.rec_file, config.idx_file, config.dataset_path) == (str(rec.path), str(idx.path), None)


def test_the_estimate_for_a_dataset_counts_what_training_will_use(alice_client, bob_client, alice):
    from training.engine.accounting import compute_epsilon

    # webface_tiny: 10 identities of 8 images; 10 % held out per identity → 1 each → 70 trained on
    dataset = Dataset.objects.create(owner=alice, name="tiny", status=DatasetStatus.READY,
                                     summary={"per_identity": {str(i): 8 for i in range(10)}})
    body = {"dataset": dataset.pk, "batch_size": 16, "epochs": 1, "noise_multiplier": 1.0, "delta": 1e-5}
    result = alice_client.post("/api/privacy/", body, format="json").json()
    assert result["num_examples"] == 70
    assert result["epsilon"] == pytest.approx(compute_epsilon(70, 16, 1, 1.0, 1e-5))
    assert bob_client.post("/api/privacy/", body, format="json").status_code == 400
