"""Aggregation: Flower's FedAvg, its client-level DP wrappers, and FedAvg with a shared head
whose rows are averaged only over the clients that hold each identity."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import (
    DifferentialPrivacyClientSideFixedClipping,
    DifferentialPrivacyServerSideFixedClipping,
    FedAvg,
    Strategy,
)
from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords

from .config import FederatedConfig
from .task import HEAD_PREFIX

COUNTS_KEY = "counts/classes"


def masked_head_average(previous: dict[str, np.ndarray], replies: list[dict[str, np.ndarray]],
                        weights: list[float]) -> dict[str, np.ndarray]:
    """Backbone arrays: the ``weights``-weighted mean. Head arrays (class axis last): column c is
    the mean over the clients that trained class c, weighted by their examples of c; a class no
    client trained keeps its previous value."""
    total = float(sum(weights))
    out: dict[str, np.ndarray] = {}
    counts = np.stack([r[COUNTS_KEY] for r in replies]).astype(np.float64)  # (clients, classes)
    held = counts.sum(axis=0)
    for key, old in previous.items():
        if key == COUNTS_KEY:
            continue
        stack = np.stack([r[key] for r in replies]).astype(np.float64)
        if key.startswith(HEAD_PREFIX) and old.shape[-1] == counts.shape[1]:
            weighted = np.einsum("kc,k...c->...c", counts, stack)
            mean = np.divide(weighted, held, out=np.zeros_like(weighted), where=held > 0)
            out[key] = np.where(held > 0, mean, old).astype(old.dtype)
        else:
            out[key] = (np.tensordot(np.asarray(weights) / total, stack, axes=(0, 0))).astype(old.dtype)
    return out


class SharedHeadFedAvg(FedAvg):
    """FedAvg for ``--head shared``: remembers what it sent, aggregates the head per class."""

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        self._sent = {k: v.numpy() for k, v in arrays.items()}
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        valid, _ = self._check_and_log_replies(replies, is_train=True)
        if not valid:
            return None, None
        contents = [m.content for m in valid]
        arrays = [{k: v.numpy() for k, v in c["arrays"].items()} for c in contents]
        weights = [float(c["metrics"][self.weighted_by_key]) for c in contents]
        merged = masked_head_average(self._sent, arrays, weights)
        record = ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in merged.items()})
        return record, aggregate_metricrecords(contents, self.weighted_by_key)


def make_strategy(config: FederatedConfig, noise: float | None) -> Strategy:
    k, level = config.sampled, config.level
    base_cls = SharedHeadFedAvg if config.head == "shared" else FedAvg
    # Client-level DP assumes each client moves the mean by at most C/K: uniform weights.
    base = base_cls(fraction_train=k / config.num_clients, min_train_nodes=k, min_available_nodes=k,
                    fraction_evaluate=0.0, weighted_by_key="dp-weight" if level == "client" else "num-examples")
    if level != "client":
        return base
    wrapper = (DifferentialPrivacyClientSideFixedClipping if config.clipping == "client"
               else DifferentialPrivacyServerSideFixedClipping)
    return wrapper(base, float(noise or 0.0), config.l2_norm_clip, k)
