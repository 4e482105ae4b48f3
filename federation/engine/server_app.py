"""The Flower ServerApp: the round loop of a federated run, the same in simulation and deployment.

Its own loop over Flower's Strategy interface (``configure_train`` / ``aggregate_train`` of
FedAvg or its DP wrappers) rather than ``Strategy.start``, so that it can, between rounds:
check for a cancel, stop before a round would exceed the privacy budget, write a checkpoint
(a retried run resumes from the last finished round), verify the global model on the
dataset's ``.bin`` and report the round through ``events.jsonl``.
"""

from __future__ import annotations

import json
import random
import secrets
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp

from privface_core.errors import UserError
from training.engine import checkpoint
from training.engine.config import ConfigError

from . import model_card
from . import plan as run_plan
from .client_app import from_record, to_record
from .config import FederatedConfig
from .events import CONFIG_FILE, RESULT_FILE, EventLog, cancel_requested, json_safe, write_json
from .privacy import calibrate, client_level_epsilon, example_level, sample_level_epsilon
from .strategy import make_strategy

NODE_WAIT_SECONDS = 120.0  # deployment: how long to wait for enough SuperNodes to connect


def client_settings(config: FederatedConfig, run_dir: Path, run_id: str, noise: float | None,
                    seed: int) -> dict[str, Any]:
    """What every client needs to train: sent in each message, so SuperNodes need no config."""
    keys = ("model", "head_type", "embedding_size", "image_size", "batch_size", "optimizer", "lr", "momentum",
            "weight_decay", "local_epochs", "l2_norm_clip", "delta", "accountant", "holdout_fraction", "head",
            "flip")
    settings = {k: getattr(config, k) for k in keys}
    settings.update(dp_level=config.level, noise=noise, run_id=run_id, run_dir=str(run_dir), seed=seed,
                    inject_failure=config.extra.get("inject_failure"),
                    record_updates=bool(config.extra.get("record_updates")))
    return settings


class FederatedServer:
    def __init__(self, run_dir: Path, grid: Grid) -> None:
        self.run_dir, self.grid = Path(run_dir), grid
        self.config = FederatedConfig.from_dict(json.loads((self.run_dir / CONFIG_FILE).read_text()))
        self.events = EventLog(self.run_dir)
        self.warnings: list[str] = []

    # -- the whole run ----------------------------------------------------------------------

    def run(self) -> None:
        try:
            result = self._run()
        except UserError as err:
            write_json(self.run_dir / RESULT_FILE, {"status": "failed", "error": str(err)})
            self.events.emit("error", message=str(err))
            return
        except Exception as err:  # reported, then re-raised so the log keeps the traceback
            (self.run_dir / "server-traceback.txt").write_text(traceback.format_exc())
            message = f"internal error in the federated server ({type(err).__name__})"
            write_json(self.run_dir / RESULT_FILE, {"status": "failed", "error": message})
            self.events.emit("error", message=message)
            raise
        write_json(self.run_dir / RESULT_FILE, {"status": "completed", **result})
        self.events.emit("done", **{k: v for k, v in result.items() if k != "model_card"})

    def _run(self) -> dict[str, Any]:
        config = self.config
        saved = checkpoint.load(self.run_dir) if config.resume else None
        state = saved[1] if saved else None
        self.seed = state["seed"] if state else (config.seed if config.seed is not None else secrets.randbits(31))
        random.seed(self.seed)  # Flower's FedAvg samples clients with the random module
        self.plan = run_plan.make_plan(config, self.run_dir, self.seed) if not config.superlink else None
        self.sizes = run_plan.num_train_per_client(self.plan, config.holdout_fraction) if self.plan else None
        self.noise = state["noise"] if state else self._noise()
        run_id = state["run_id"] if state else secrets.token_hex(8)
        self.settings = client_settings(config, self.run_dir, run_id, self.noise, self.seed)
        if self.plan:
            self._check_sizes()
            self.settings["head_classes"] = (self.plan["identities"] if config.head == "shared"
                                             else max(c["identities"] for c in self.plan["clients"]))
        self.events.emit("start", rounds=config.num_rounds, clients=config.num_clients, sampled=config.sampled,
                         dp_level=config.level, noise_multiplier=self.noise,
                         resumed_from=state["round"] if state else 0,
                         partition=self.plan["clients"] if self.plan else None)
        self._build_model(saved)
        self.strategy = make_strategy(config, self.noise)
        self.secure = None
        self.verification = None
        if config.eval_bin:
            from training.engine.verification import VerificationSet

            self.verification = VerificationSet(config.eval_bin, config.image_size)
        self.round = state["round"] if state else 0
        self.history: list[dict[str, Any]] = state["history"] if state else []
        self.clients: dict[str, dict[str, Any]] = state["clients"] if state else {}
        self.released = state["released"] if state else 0
        self.stopped: str | None = None
        self._wait_for_nodes()
        if config.secagg:
            from .secagg import DEPLOYMENT_MAX_WEIGHT, SecureRound

            # Client-level DP weighs every client 1 (its clipped update moves the mean by <= C/K).
            max_weight = 1 if config.level == "client" else (max(self.sizes) if self.sizes else DEPLOYMENT_MAX_WEIGHT)
            self.secure = SecureRound(self.grid, config.num_clients, config.sampled, config.num_rounds, max_weight,
                                      config.round_timeout)
        while self.round < config.num_rounds:
            if cancel_requested(self.run_dir):
                self.stopped = "cancelled"
                break
            if self._next_round_exceeds_budget():
                self.stopped = "privacy_budget"
                self.events.emit("log", level="warning", message=f"stopped before round {self.round + 1}:"
                                 " it would exceed --target_epsilon")
                break
            self._train_round(self.round + 1)
        if self.stopped is None and self.round < config.num_rounds and cancel_requested(self.run_dir):
            self.stopped = "cancelled"
        final = self._evaluate(sorted(self._node_ids()), audit=True) if self.round else {}
        return self._finish(final)

    # -- set-up -----------------------------------------------------------------------------

    def _noise(self) -> float | None:
        config = self.config
        if config.level == "none":
            return None
        if config.noise is not None:
            return config.noise
        target = float(config.target_epsilon)  # calibrate: the planned rounds spend at most the target
        try:
            if config.level == "client":
                return calibrate(lambda z: client_level_epsilon(config.num_clients, config.sampled, z,
                                                                config.num_rounds, config.delta), target)
            if not self.sizes:
                raise ConfigError("target_epsilon", "with --dp_level sample needs --noise_multiplier in deployment"
                                  " (the server does not know the clients' sizes); the target still caps the run")
            smallest = min(self.sizes)  # the highest sample rate spends the most
            return calibrate(lambda z: sample_level_epsilon(smallest, config.batch_size, config.local_epochs,
                                                            config.num_rounds, z, config.delta, config.accountant),
                             target)
        except ValueError as err:
            raise ConfigError("target_epsilon", str(err)) from None

    def _check_sizes(self) -> None:
        smallest = min(self.sizes)
        if self.config.batch_size > smallest:
            client = self.sizes.index(smallest)
            raise ConfigError("batch_size", f"must be at most {smallest}: client {client} has only that many"
                                            " training images")

    def _build_model(self, saved) -> None:
        import keras

        from training.engine.heads import make_head

        from .task import BACKBONE_PREFIX, HEAD_PREFIX, backbone, named_weights

        keras.utils.set_random_seed(self.seed)
        self.backbone = backbone(self.settings)
        arrays = named_weights(BACKBONE_PREFIX, self.backbone)
        if self.config.head == "shared":
            head = make_head(self.config.head_type, int(self.plan["identities"]), dtype="float32")
            head.build((None, int(self.backbone.output_shape[-1])))
            arrays.update(named_weights(HEAD_PREFIX, head))
        if saved is not None:
            stored, state = saved
            if list(state["keys"]) != list(arrays) or len(stored) != len(arrays):
                raise UserError(f"the checkpoint in {self.run_dir} does not fit this model: cannot resume")
            arrays = dict(zip(state["keys"], stored, strict=True))
        self.arrays = arrays

    def _node_ids(self) -> list[int]:
        return list(self.grid.get_node_ids())

    def _wait_for_nodes(self) -> None:
        deadline = time.monotonic() + NODE_WAIT_SECONDS
        while len(nodes := self._node_ids()) < self.config.sampled:
            if time.monotonic() > deadline:
                raise UserError(f"only {len(nodes)} of the {self.config.sampled} clients a round needs connected"
                                f" within {NODE_WAIT_SECONDS:.0f} s")
            time.sleep(1.0)

    # -- privacy ----------------------------------------------------------------------------

    def _epsilons(self, extra_round: int = 0) -> dict[str, Any]:
        config = self.config
        out: dict[str, Any] = {}
        if config.level == "sample":
            per_client = {}
            for key, info in self.clients.items():
                rounds = int(info.get("rounds", 0)) + extra_round
                per_client[key] = sample_level_epsilon(int(info["examples"]), config.batch_size, config.local_epochs,
                                                       rounds, self.noise, config.delta, config.accountant)
            if extra_round and self.sizes:  # clients not yet seen would take their first round
                for pid, n in enumerate(self.sizes):
                    per_client.setdefault(str(pid), sample_level_epsilon(n, config.batch_size, config.local_epochs,
                                                                         1, self.noise, config.delta,
                                                                         config.accountant))
            out["sample_epsilon"] = max(per_client.values()) if per_client else 0.0
            out["per_client_epsilon"] = per_client
        if config.level == "client":
            out["client_epsilon"] = client_level_epsilon(config.num_clients, config.sampled, self.noise,
                                                         self.released + extra_round, config.delta)
        return out

    def _next_round_exceeds_budget(self) -> bool:
        target = self.config.target_epsilon
        if target is None or self.config.level == "none":
            return False
        after = self._epsilons(extra_round=1)
        return max(after.get("sample_epsilon", 0.0), after.get("client_epsilon", 0.0)) > target

    # -- one round --------------------------------------------------------------------------

    def _config_record(self, **extra: Any) -> ConfigRecord:
        return ConfigRecord({"settings": json.dumps(self.settings), **extra})

    def _secure_round(self, rnd: int) -> None:
        """SecAgg+: the server sees the masked sum only; loss, accuracy and timings come as plain metrics."""
        started = time.monotonic()
        arrays, clients, failures = self.secure.run(rnd, self.arrays, self.settings)
        if len(clients) < self.config.min_replies or arrays is None:
            reason = f": {_short(failures[0])}" if failures else ""
            raise UserError(f"round {rnd}: secure aggregation got {len(clients)} of {self.config.sampled} clients,"
                            f" fewer than --min_clients {self.config.min_replies}{reason}")
        new = arrays
        if self.config.level == "client":
            if len(clients) < self.config.sampled:  # the noise is sized for K updates: no release
                self.events.emit("log", level="warning", message=f"round {rnd}: not released ({len(clients)} of"
                                 f" {self.config.sampled} clients in the secure sum; client-level DP needs all)")
                new = self.arrays
            else:
                # Flower's central DP noise on the unmasked mean of clipped updates: std z*C/K.
                from flwr.supercore.differential_privacy import add_gaussian_noise_inplace, compute_stdv

                values = [np.array(new[k], dtype=np.float64) for k in new]
                add_gaussian_noise_inplace(values, compute_stdv(self.noise, self.config.l2_norm_clip,
                                                                self.config.sampled))
                new = {k: v.astype(self.arrays[k].dtype) for k, v in zip(new, values, strict=True)}
                self.released += 1
        update_norm = float(np.sqrt(sum(float(np.sum((new[k] - self.arrays[k]) ** 2)) for k in new)))
        self.arrays = new
        for info in clients:
            self.clients[str(info["partition"])] = {**self.clients.get(str(info["partition"]), {}), **info}
        total = sum(c["examples"] for c in clients) or 1
        per_client = [{**c, "status": "ok"} for c in clients] + [
            {"partition": "?", "status": "failed", "reason": _short(f)} for f in failures]
        self.round = rnd
        entry: dict[str, Any] = {
            "round": rnd, "sampled": self.config.sampled, "replied": len(clients), "failed": len(failures),
            "aggregated": True, "received": ["masked-sum"], "update_norm": update_norm,
            "loss": sum(c["loss"] * c["examples"] for c in clients) / total,
            "accuracy": sum(c["accuracy"] * c["examples"] for c in clients) / total,
            "held_accuracy": None, "seconds": round(time.monotonic() - started, 3),
        }
        entry.update(self._verify())
        entry.update(self._epsilons())
        entry["epsilon"] = self._headline_epsilon(entry)
        self.history.append(json_safe(entry))
        self._save()
        self.events.emit("round", **entry, total_rounds=self.config.num_rounds, clients=per_client)

    def _train_round(self, rnd: int) -> None:
        if self.secure is not None:
            return self._secure_round(rnd)
        config = self.config
        started = time.monotonic()
        messages = list(self.strategy.configure_train(rnd, to_record(self.arrays), self._config_record(), self.grid))
        replies = list(self.grid.send_and_receive(messages, timeout=config.round_timeout))
        answered = {r.metadata.src_node_id for r in replies}
        ok = [r for r in replies if not r.has_error()]
        failed = [(r.metadata.src_node_id, r.error.reason) for r in replies if r.has_error()]
        failed += [(m.metadata.dst_node_id, "no reply before the round timed out") for m in messages
                   if m.metadata.dst_node_id not in answered]
        per_client = []
        # What reached the server, by kind of weight: the private-head tests read this.
        received = sorted({key.split("/")[0] for r in ok for key in r.content["arrays"].keys()})
        for reply in ok:
            info = dict(reply.content["client"])
            self.clients[str(info["partition"])] = {**self.clients.get(str(info["partition"]), {}), **info,
                                                    "node": reply.metadata.src_node_id}
            metrics = reply.content["metrics"]
            per_client.append({**info, "loss": metrics["loss"], "accuracy": metrics["accuracy"], "status": "ok"})
        for node, reason in failed:
            partition = next((k for k, v in self.clients.items() if v.get("node") == node), f"node {node}")
            per_client.append({"partition": partition, "status": "failed", "reason": _short(reason)})
        if len(ok) < config.min_replies:
            reason = f": {_short(failed[0][1])}" if failed else ""
            raise UserError(f"round {rnd}: {len(ok)} of {len(messages)} clients replied, fewer than"
                            f" --min_clients {config.min_replies}{reason}")
        # Client-level DP releases only complete rounds (Flower's wrappers skip a round with a
        # failure: the noise was sized for K clients); the others aggregate whoever replied.
        arrays, metrics = self.strategy.aggregate_train(rnd, replies if config.level == "client" else ok)
        released = arrays is not None
        update_norm = 0.0
        if released:
            new = from_record(arrays)
            update_norm = float(np.sqrt(sum(float(np.sum((new[k] - self.arrays[k]) ** 2)) for k in new)))
            self.arrays = new
            if config.level == "client":
                self.released += 1
        else:
            self.events.emit("log", level="warning", message=f"round {rnd}: not aggregated (a client failed and"
                             " client-level DP releases only complete rounds)")
        self.round = rnd
        entry: dict[str, Any] = {
            "round": rnd, "sampled": len(messages), "replied": len(ok), "failed": len(failed),
            "aggregated": released, "received": received, "update_norm": update_norm,
            "loss": float(metrics["loss"]) if metrics else None,
            "accuracy": float(metrics["accuracy"]) if metrics else None,
            # Federated evaluation on the clients' held-out images runs once, after the last
            # round (with the membership audit): each message is a process start on a SuperNode.
            "held_accuracy": None,
            "seconds": round(time.monotonic() - started, 3),
        }
        entry.update(self._verify())
        entry.update(self._epsilons())
        entry["epsilon"] = self._headline_epsilon(entry)
        self.history.append(json_safe(entry))
        self._save()
        self.events.emit("round", **entry, total_rounds=config.num_rounds, clients=per_client)

    def _headline_epsilon(self, eps: dict[str, Any]) -> float | None:
        if self.config.level == "none":
            return None
        return eps.get("sample_epsilon") if self.config.level == "sample" else eps.get("client_epsilon")

    def _evaluate(self, nodes: list[int], audit: bool) -> dict[str, float]:
        """Federated evaluation of the global backbone on these clients' held-out images."""
        if not nodes:
            return {}
        content = RecordDict({"arrays": to_record(self.arrays), "config": self._config_record(audit=audit)})
        messages = [Message(content=content, message_type=MessageType.EVALUATE, dst_node_id=n) for n in nodes]
        replies = [r for r in self.grid.send_and_receive(messages, timeout=self.config.round_timeout)
                   if not r.has_error()]
        totals: dict[str, float] = {}
        weights: dict[str, float] = {}
        for reply in replies:
            metrics = reply.content["metrics"]
            n = float(metrics["num-examples"])
            for key, value in metrics.items():
                if key != "num-examples" and n > 0:
                    totals[key] = totals.get(key, 0.0) + float(value) * n
                    weights[key] = weights.get(key, 0.0) + n
        return {k: totals[k] / weights[k] for k in totals}

    def _verify(self) -> dict[str, Any]:
        if self.verification is None:
            return {}
        from .task import BACKBONE_PREFIX, assign

        assign(BACKBONE_PREFIX, self.backbone, self.arrays)
        result = self.verification.evaluate(lambda x: np.asarray(self.backbone(x, training=False)), 128)
        return {"verification_accuracy": result.accuracy, "verification": result.to_dict()}

    # -- persistence and the end ------------------------------------------------------------

    def _save(self) -> None:
        state = {"round": self.round, "seed": self.seed, "noise": self.noise, "run_id": self.settings["run_id"],
                 "keys": list(self.arrays), "history": self.history, "clients": self.clients,
                 "released": self.released, "config": self.config.to_dict()}
        checkpoint.save(self.run_dir, list(self.arrays.values()), json_safe(state))

    def _dp(self) -> dict[str, Any]:
        config = self.config
        if config.level == "none":
            return {"enabled": False}
        eps = self._epsilons()
        sample, client = eps.get("sample_epsilon"), eps.get("client_epsilon")
        card: dict[str, Any] = {
            "enabled": True, "level": config.level, "delta": config.delta, "noise_multiplier": self.noise,
            "target_epsilon": config.target_epsilon, "accountant": config.accountant if config.level == "sample"
            else "rdp", "epsilon": example_level(sample, client),
        }
        if config.level == "sample":
            card.update(unit="one image of one client (example-level DP, DP-SGD on each client)",
                        l2_norm_clip=config.l2_norm_clip, per_client_epsilon=eps["per_client_epsilon"],
                        sampling="poisson (per client)", max_client_epsilon=sample)
        else:
            card.update(unit="one client's whole dataset (user-level DP)", update_clip=config.l2_norm_clip,
                        clipping=config.clipping, client_epsilon=client, released_rounds=self.released,
                        sampling=f"{config.sampled} of {config.num_clients} clients per round, without replacement",
                        neighbouring="replace one client (sensitivity 2C)")
        return card

    def _finish(self, final: dict[str, float]) -> dict[str, Any]:
        from training.engine.export import export

        from .task import BACKBONE_PREFIX, assign

        assign(BACKBONE_PREFIX, self.backbone, self.arrays)
        audit = {"auc": final["mia_auc"], "attack": "loss threshold, on each client's own data, averaged"} \
            if "mia_auc" in final else None
        facts = {
            "backbone": self.backbone.name,
            "backbone_parameters": int(sum(int(np.prod(w.shape)) for w in self.backbone.weights)),
            "images": self.plan["images"] if self.plan else None,
            "identities": self.plan["identities"] if self.plan else None,
            "clients": [self._client_summary(k, v) for k, v in sorted(self.clients.items())],
            "rounds": self.round, "stopped": self.stopped or "completed", "history": self.history,
            "dp": self._dp(), "membership_inference": audit, "final_evaluation": final, "warnings": self.warnings,
        }
        card = json_safe(model_card.build(self.config, facts))
        export_dir = export(self.run_dir, self.backbone, card)
        last = self.history[-1] if self.history else {}
        return {"export_dir": str(export_dir), "rounds_completed": self.round, "stopped": self.stopped or "completed",
                "epsilon": card["dp"].get("epsilon"), "delta": self.config.delta if card["dp"]["enabled"] else None,
                "noise_multiplier": self.noise, "loss": last.get("loss"), "accuracy": last.get("accuracy"),
                "verification_accuracy": last.get("verification_accuracy"),
                "held_accuracy": final.get("held_accuracy"), "mia_auc": final.get("mia_auc"), "model_card": card}

    def _client_summary(self, key: str, info: dict[str, Any]) -> dict[str, Any]:
        summary = {k: info[k] for k in ("partition", "examples", "identities", "rounds", "epsilon") if k in info}
        if self.plan and key.isdigit():
            summary["images"] = self.plan["clients"][int(key)]["images"]
        return summary


def _short(reason: str) -> str:
    """The last line of a client's error (its traceback stays on the client)."""
    lines = [line.strip() for line in str(reason).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "unknown error")[:300]


def make_server_app(run_dir: str | None = None) -> ServerApp:
    """Simulation passes the run folder; in deployment it comes from the run config (``run-dir``)."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        folder = run_dir or str(context.run_config.get("run-dir", ""))
        if not folder:
            raise UserError("the run config has no run-dir")
        FederatedServer(Path(folder), grid).run()

    return app


app = make_server_app()
