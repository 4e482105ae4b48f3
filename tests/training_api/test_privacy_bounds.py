"""Issue #14: ``POST /api/privacy/`` has bounded cost (upper limits, a time limit, off the
web process) and never reports an epsilon below a valid bound."""

import time

import pytest

from training.engine import accounting

BASE = {"num_examples": 60000, "batch_size": 256, "epochs": 15, "noise_multiplier": 1.1, "delta": 1e-5}


def test_it_refuses_the_request_that_stalled_the_site(alice_client):
    body = {"num_examples": 1e9, "batch_size": 1, "epochs": 10000, "accountant": "pld",
            "noise_multiplier": 1.0, "delta": 1e-5}
    # The process's first request imports the API stack (over a second on a loaded machine):
    # that is not what is timed here, the refusal is.
    assert alice_client.post("/api/privacy/", {}, format="json").status_code == 400
    started = time.monotonic()
    response = alice_client.post("/api/privacy/", body, format="json")
    assert response.status_code == 400
    assert "epochs" in response.json()
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("change, field", [
    ({"num_examples": 2_000_000_000}, "num_examples"),
    ({"batch_size": 100_000}, "batch_size"),
    ({"epochs": 1001}, "epochs"),
    ({"num_examples": 10_000_000, "batch_size": 1, "epochs": 2}, "epochs"),  # 20 M steps
])
def test_inputs_that_drive_computation_have_upper_limits(alice_client, change, field):
    response = alice_client.post("/api/privacy/", {**BASE, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_slow_estimate_is_stopped_at_its_time_limit(alice_client, settings):
    settings.PRIVACY_TIMEOUT_SECONDS = 2
    body = {"num_examples": 1_000_000, "batch_size": 1, "epochs": 3, "accountant": "pld",
            "noise_multiplier": 1.0, "delta": 1e-5}  # 7 s in the issue
    started = time.monotonic()
    response = alice_client.post("/api/privacy/", body, format="json")
    assert response.status_code == 400
    assert "takes more than 2 s to compute" in response.json()["detail"]
    assert time.monotonic() - started < 5
    # the stopped process was replaced: the next estimate works
    settings.PRIVACY_TIMEOUT_SECONDS = 30
    assert alice_client.post("/api/privacy/", BASE, format="json").status_code == 200


def test_it_never_reports_an_epsilon_below_a_valid_bound(alice_client):
    # dp-accounting: "Negative Renyi divergence ... Returning an epsilon of zero"
    body = {"num_examples": 10_000_000, "batch_size": 1, "epochs": 1, "noise_multiplier": 1000, "delta": 1e-5}
    response = alice_client.post("/api/privacy/", body, format="json")
    assert response.status_code == 400
    assert "cannot bound epsilon" in response.json()["detail"]


def test_the_accountant_refuses_instead_of_answering_zero():
    with pytest.raises(accounting.UnreliableEpsilon):
        accounting.compute_epsilon(10**9, 1, 1, 1000.0, 1e-5, "rdp")
    assert accounting.compute_epsilon(60000, 256, 15, 1.1, 1e-5) > 0


def test_the_estimate_does_not_run_in_the_web_process(alice_client, monkeypatch):
    import os

    from privface_site import compute

    seen = []
    monkeypatch.setattr("privface_site.compute.run",
                        lambda fn, *args, timeout, lane: seen.append((fn, lane)) or compute.call_by_name(fn, *args))
    assert alice_client.post("/api/privacy/", BASE, format="json").status_code == 200
    assert alice_client.post("/api/privacy/", {**BASE, "accountant": "pld"}, format="json").status_code == 200
    # named, so the web process never imports the accountant (dp-accounting and SciPy)
    assert seen == [("training.engine.accounting:estimate", "light"), ("training.engine.accounting:estimate", "heavy")]

    monkeypatch.undo()
    assert compute.run(os.getpid, timeout=30) != os.getpid()
    assert compute.run("os:getpid", timeout=30) != os.getpid()


def test_a_repeated_estimate_is_answered_from_memory(alice_client, monkeypatch):
    from privface_site import compute

    seen = []
    monkeypatch.setattr("privface_site.compute.run",
                        lambda fn, *args, timeout, lane: seen.append(lane) or compute.call_by_name(fn, *args))
    first = alice_client.post("/api/privacy/", BASE, format="json")
    assert first.status_code == 200
    assert alice_client.post("/api/privacy/", BASE, format="json").json() == first.json()
    assert alice_client.post("/api/privacy/", {**BASE, "epochs": BASE["epochs"] + 1}, format="json").status_code == 200
    assert seen == ["light", "light"]  # the repeated question computed nothing



def _messages(alice_client, field: str, change: dict) -> dict[str, str]:
    """The message for one bad value from every place that checks it (issue #12: one validation)."""
    import argparse

    from federation.engine.config import FederatedConfig
    from privface_core.errors import UserError
    from training.engine.config import TrainConfig
    from training.engine.privacy_cli import add_privacy_arguments, run_privacy

    query = {**BASE, **change}
    messages = {"api": alice_client.post("/api/privacy/", query, format="json").json()[field][0]}
    parser = argparse.ArgumentParser()
    add_privacy_arguments(parser)
    with pytest.raises(UserError) as cli:
        run_privacy(parser.parse_args([f"--{name}={value}" for name, value in query.items()]))
    messages["cli"] = str(cli.value)
    with pytest.raises(accounting.PlanError) as estimate:
        accounting.estimate(query["num_examples"], query["batch_size"], query["epochs"], query["delta"], "rdp",
                            query["noise_multiplier"])
    messages["estimate"] = str(estimate.value)
    if field == "delta":  # the configs have no num_examples: that is the data's
        configs = {"training config": TrainConfig(dataset_path="d", use_dp=True, noise_multiplier=1.0, **change),
                   "federated config": FederatedConfig(data_dir="d", num_clients=2, use_dp=True, **change)}
        for name, config in configs.items():
            with pytest.raises(UserError) as err:
                config.validate()
            assert err.value.field == field
            messages[name] = str(err.value)
    return messages


@pytest.mark.parametrize("field, change, expected", [
    ("delta", {"delta": 1.5}, "--delta must be between 0 and 1 (exclusive), got 1.5"),
    ("batch_size", {"num_examples": 100, "batch_size": 200},
     "--batch_size must not exceed num_examples (100), got 200"),
])
def test_a_bad_value_gets_one_message_everywhere(alice_client, field, change, expected):
    messages = _messages(alice_client, field, change)
    assert set(messages.values()) == {expected}, messages
    assert len(messages) == (5 if field == "delta" else 3)
