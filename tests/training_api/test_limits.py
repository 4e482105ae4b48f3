"""GET /api/training/limits/ and /api/federated/limits/: the ranges the configs enforce.

The forms check against these tables, so each entry must be exactly what ``validate()``
accepts: its ends pass (or fail, when exclusive) and one step beyond fails, naming the field."""

import json
import math
from pathlib import Path

import pytest

from federation.engine.config import FIELD_BOUNDS as FEDERATED_BOUNDS
from federation.engine.config import MAX_CLIENTS, FederatedConfig
from privface_core.errors import ConfigError
from training.engine.config import FIELD_BOUNDS as TRAINING_BOUNDS
from training.engine.config import Bound, TrainConfig


def training_config(name, value):
    extra = {"use_dp": True} if name in ("noise_multiplier", "target_epsilon") else {}
    return TrainConfig(dataset_path="data", **extra, **{name: value})


def federated_config(name, value):
    extra = {"use_dp": True} if name in ("noise_multiplier", "target_epsilon") else {}
    if name in ("clients_per_round", "min_clients"):
        extra["num_clients"] = MAX_CLIENTS  # these are also at most the clients
    return FederatedConfig(data_dir="data", **extra, **{name: value})


def step(x: float) -> float:
    return abs(x) * 1e-9 or 1e-9


def cases(table: dict[str, Bound]):
    """(field, value, accepted) at both ends of every bound and just beyond them."""
    for name, b in table.items():
        low, high = b.min, b.max
        if b.integer:
            yield name, int(low), True
            yield name, int(low) - 1, False
        else:
            inside = low + step(low) if b.min_exclusive else low
            yield name, inside, True
            yield name, low, not b.min_exclusive
            yield name, low - step(low), False
        if b.at_most:  # the default of that field (training: 20 epochs)
            limit = getattr(TrainConfig(), b.at_most)
            yield name, limit, True
            yield name, limit + step(limit), False
        elif high is None:
            yield name, 10**12 if b.integer else 1e12, True
        elif b.integer:
            yield name, int(high), True
            yield name, int(high) + 1, False
        else:
            yield name, high - step(high), True
            yield name, high, not b.max_exclusive
            yield name, high + step(high), False


def check(make, name, value, accepted):
    config = make(name, value)
    if accepted:
        config.validate()
    else:
        with pytest.raises(ConfigError) as err:
            config.validate()
        assert err.value.field == name


@pytest.mark.parametrize(("name", "value", "accepted"), list(cases(TRAINING_BOUNDS)))
def test_training_bounds_are_what_validate_enforces(name, value, accepted):
    check(training_config, name, value, accepted)


@pytest.mark.parametrize(("name", "value", "accepted"), list(cases(FEDERATED_BOUNDS)))
def test_federated_bounds_are_what_validate_enforces(name, value, accepted):
    check(federated_config, name, value, accepted)


@pytest.mark.parametrize(("url", "table"), [("/api/training/limits/", TRAINING_BOUNDS),
                                            ("/api/federated/limits/", FEDERATED_BOUNDS)])
def test_the_endpoints_serve_the_tables(alice_client, client, url, table):
    bounds = alice_client.get(url).json()["bounds"]
    assert set(bounds) == set(table)
    for name, bound in table.items():
        served = bounds[name]
        assert served["integer"] == bound.integer
        assert served["min"] == bound.min and served["min_exclusive"] == bound.min_exclusive
        assert served["max"] == bound.max and served["max_exclusive"] == bound.max_exclusive
        assert served["at_most"] == bound.at_most
        assert served["max"] is None or math.isfinite(served["max"])
    assert client.get(url).status_code in (401, 403)  # signed in only


def test_the_training_form_epochs_limit_is_the_servers():
    assert TRAINING_BOUNDS["epochs"] == Bound(1, 1000, integer=True)
    assert "lr" in TRAINING_BOUNDS and TRAINING_BOUNDS["lr"].max is None  # no upper limit on the server


def test_the_front_end_tests_mock_what_the_endpoints_answer(alice_client):
    # frontend/src/test/limits.json stands in for these answers in the forms' tests.
    mocked = json.loads((Path(__file__).parents[2] / "frontend/src/test/limits.json").read_text())
    assert mocked["training"] == alice_client.get("/api/training/limits/").json()
    assert mocked["federated"] == alice_client.get("/api/federated/limits/").json()
