"""Aggregation: the shared head's masked average, and Flower's client-level DP on fixed updates."""

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

from federation.engine.config import FederatedConfig
from federation.engine.strategy import COUNTS_KEY, make_strategy, masked_head_average


@pytest.fixture(autouse=True)
def task_identity(monkeypatch):
    """Messages are stamped with the running task's identity, which Flower's runtimes set."""
    from flwr.supercore.task_identity import TaskIdentity

    for name, value in (("_run_id", 1), ("_node_id", 0), ("_task_id", 1)):
        monkeypatch.setattr(TaskIdentity, name, value)


class FakeGrid:
    def __init__(self, nodes):
        self.nodes = nodes

    def get_node_ids(self):
        return list(self.nodes)


def record(arrays):
    return ArrayRecord({k: Array(np.asarray(v, dtype=np.float32)) for k, v in arrays.items()})


def replies_to(messages, updates, weight_key="dp-weight"):
    out = []
    for message, arrays in zip(messages, updates, strict=True):
        content = RecordDict({"arrays": record(arrays), "metrics": MetricRecord({weight_key: 1.0, "loss": 1.0,
                                                                                   "num-examples": 10})})
        out.append(Message(content, reply_to=message))
    return out


def test_it_averages_each_head_row_over_the_clients_that_hold_it():
    previous = {"backbone/000": np.zeros(2), "head/000": np.full((2, 3), 9.0)}
    a = {"backbone/000": np.array([1.0, 1.0]), "head/000": np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]]),
         COUNTS_KEY: np.array([3.0, 1.0, 0.0])}
    b = {"backbone/000": np.array([3.0, 3.0]), "head/000": np.array([[5.0, 0.0, 0.0], [5.0, 0.0, 0.0]]),
         COUNTS_KEY: np.array([1.0, 0.0, 0.0])}
    merged = masked_head_average(previous, [a, b], [1.0, 3.0])
    np.testing.assert_allclose(merged["backbone/000"], [2.5, 2.5])  # weighted by examples: (1 + 9) / 4
    # class 0: (3*1 + 1*5) / 4 = 2; class 1 only client a holds: 2; class 2 nobody trained: kept.
    np.testing.assert_allclose(merged["head/000"], [[2.0, 2.0, 9.0], [2.0, 2.0, 9.0]])
    assert COUNTS_KEY not in merged


@pytest.mark.parametrize("clipping", ["server", "client"])
def test_client_level_dp_clips_updates_to_c(clipping):
    config = FederatedConfig(data_dir="x", num_clients=2, dp_level="client", clipping=clipping, l2_norm_clip=1.0)
    strategy = make_strategy(config, noise=0.0)
    start = {"w": np.zeros(4)}
    messages = list(strategy.configure_train(1, record(start), ConfigRecord({}), FakeGrid([1, 2])))
    big, small = np.array([10.0, 0, 0, 0]), np.array([0, 0.5, 0, 0])
    if clipping == "client":  # what fixedclipping_mod does on each client
        from flwr.supercore.differential_privacy import compute_clip_model_update

        updates = [[big.copy()], [small.copy()]]
        for u in updates:
            compute_clip_model_update(u, [start["w"]], 1.0)
        big, small = updates[0][0], updates[1][0]
    arrays, _ = strategy.aggregate_train(1, replies_to(messages, [{"w": big}, {"w": small}]))
    np.testing.assert_allclose(arrays["w"].numpy(), [0.5, 0.25, 0, 0], atol=1e-6)  # (clip(10)=1, 0.5) / 2


def test_client_level_dp_noise_has_std_z_c_over_m():
    z, c, m, size = 1.5, 0.8, 4, 200_000
    config = FederatedConfig(data_dir="x", num_clients=m, dp_level="client", clipping="server", l2_norm_clip=c)
    strategy = make_strategy(config, noise=z)
    messages = list(strategy.configure_train(1, record({"w": np.zeros(size)}), ConfigRecord({}),
                                             FakeGrid(range(1, m + 1))))
    # Small equal updates, under the clip (Flower's clipping divides by the norm: not zero).
    arrays, _ = strategy.aggregate_train(1, replies_to(messages, [{"w": np.full(size, 1e-4)}] * m))
    noise = arrays["w"].numpy() - 1e-4
    assert noise.std() == pytest.approx(z * c / m, rel=0.02)
    assert abs(noise.mean()) < 0.01


def test_without_client_dp_it_weights_by_examples():
    config = FederatedConfig(data_dir="x", num_clients=2)
    strategy = make_strategy(config, noise=None)
    messages = list(strategy.configure_train(1, record({"w": np.zeros(1)}), ConfigRecord({}), FakeGrid([1, 2])))
    replies = []
    for message, (value, n) in zip(messages, [(1.0, 10), (4.0, 30)], strict=True):
        content = RecordDict({"arrays": record({"w": [value]}), "metrics": MetricRecord({"num-examples": n})})
        replies.append(Message(content, reply_to=message))
    arrays, _ = strategy.aggregate_train(1, replies)
    assert arrays["w"].numpy()[0] == pytest.approx((10 * 1 + 30 * 4) / 40)
