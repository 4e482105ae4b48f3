"""Secure aggregation (SecAgg+) for one round, on Flower 1.42's legacy workflow path.

Flower has SecAgg+ only as ``SecAggPlusWorkflow``, which runs inside a ``LegacyContext`` with a
legacy ``Strategy`` and talks to clients in the legacy ``fitins``/``fitres`` format through
``secaggplus_mod``. The round loop calls ``SecureRound.run`` instead of the Message-API
strategy when ``--secagg`` is on: the server then learns only the sum of the clients' masked,
quantized backbones (the weighted mean, after FedAvg), never one client's update.

Quantization: each client scales its weights by n_i / max_weight, clips them to +-``CLIPPING_RANGE``
and quantizes them to 2^22 levels, so the aggregate equals plain FedAvg within about
K * (2 * CLIPPING_RANGE / 2^22) * max_weight / sum(n_i) per weight (tested). In simulation
max_weight is the largest client's training images; in deployment the server does not know the
clients' sizes and uses DEPLOYMENT_MAX_WEIGHT.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, Context, RecordDict
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext, ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.app_utils import start_update_client_manager_thread
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key
from flwr.serverapp import Grid

CLIPPING_RANGE = 8.0
QUANTIZATION_RANGE = 2**22
DEPLOYMENT_MAX_WEIGHT = 10_000


class _Capturing(LegacyFedAvg):
    """Legacy FedAvg that keeps the round's per-client metrics for the round report."""

    def aggregate_fit(self, server_round, results, failures):
        self.results, self.failures = list(results), list(failures)
        return super().aggregate_fit(server_round, results, failures)


class SecureRound:
    def __init__(self, grid: Grid, num_clients: int, sampled: int, num_rounds: int, max_examples: int,
                 timeout: float) -> None:
        self.grid, self.sampled = grid, sampled
        self.settings: dict[str, Any] = {}
        self.strategy = _Capturing(fraction_fit=sampled / num_clients, min_fit_clients=sampled,
                                   min_available_clients=sampled, fraction_evaluate=0.0,
                                   on_fit_config_fn=self._fit_config)
        self.context = LegacyContext(
            context=Context(run_id=0, node_id=0, node_config={}, state=RecordDict(), run_config={}),
            config=ServerConfig(num_rounds=num_rounds), strategy=self.strategy, client_manager=SimpleClientManager())
        _, self._stop, done = start_update_client_manager_thread(grid, self.context.client_manager)
        done.wait(timeout=60)
        # Clients scale their weights by num_examples / max_weight before quantizing, so the closer
        # max_weight is to the largest client, the finer the sum: the largest client's count.
        self.max_weight = float(max_examples)
        self.workflow = SecAggPlusWorkflow(num_shares=sampled, reconstruction_threshold=max(2, sampled - 1),
                                           max_weight=self.max_weight, clipping_range=CLIPPING_RANGE,
                                           quantization_range=QUANTIZATION_RANGE, timeout=timeout)

    def _fit_config(self, server_round: int) -> dict[str, Any]:
        return {"settings": json.dumps(self.settings), "server-round": server_round}

    def run(self, rnd: int, arrays: dict[str, np.ndarray], settings: dict[str, Any]
            ) -> tuple[dict[str, np.ndarray] | None, list[dict[str, Any]], list[str]]:
        """The securely aggregated arrays (None if the protocol halted), per-client metrics, failures."""
        self.settings = settings
        keys = list(arrays)
        state = self.context.state
        state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
            ndarrays_to_parameters([arrays[k] for k in keys]), keep_input=True)
        state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord({Key.CURRENT_ROUND: rnd, Key.START_TIME: time.time()})
        self.strategy.results, self.strategy.failures = [], []
        before = state.array_records[MAIN_PARAMS_RECORD]
        self.workflow(self.grid, self.context)
        after = state.array_records[MAIN_PARAMS_RECORD]
        clients = [dict(fitres.metrics, examples=fitres.num_examples) for _, fitres in self.strategy.results]
        failures = [str(f) for f in self.strategy.failures]
        if after is before or not clients:
            return None, clients, failures or ["secure aggregation halted (too few clients in a stage)"]
        values = parameters_to_ndarrays(compat.arrayrecord_to_parameters(after, keep_input=True))
        return {k: v.astype(arrays[k].dtype) for k, v in zip(keys, values, strict=True)}, clients, failures

    def close(self) -> None:
        self._stop.set()


def legacy_request(content: RecordDict) -> tuple[dict[str, Any], int, list[np.ndarray]] | None:
    """(settings, round, parameters) of a SecAgg+ training message; None for a Message-API one."""
    if "fitins.parameters" not in content.array_records:
        return None
    fitins = compat.recorddict_to_fitins(content, keep_input=True)
    settings = json.loads(str(fitins.config["settings"]))
    return settings, int(fitins.config["server-round"]), parameters_to_ndarrays(fitins.parameters)


def legacy_reply(arrays: list[np.ndarray], num_examples: int, metrics: dict[str, Any]) -> RecordDict:
    from flwr.common import Code, FitRes, Status

    scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))}
    fitres = FitRes(Status(Code.OK, "ok"), ndarrays_to_parameters(arrays), num_examples, scalars)
    return compat.fitres_to_recorddict(fitres, keep_input=False)
