"""The Flower ClientApp: local training and evaluation on one client's own images.

One code path for both run modes. A client finds its data from its node config:
- deployment: ``data-path=/srv/faces`` (an extracted folder, or ``train.rec`` beside its
  ``.idx``) on the SuperNode's machine; every image there is the client's, and none is sent;
- simulation: ``partition-id`` picks one part of the server-side dataset, as planned in
  ``plan.json`` of the run folder (``run-dir``).

What travels to the server is the backbone (and, with ``--head shared``, the head rows with
per-class example counts), the number of training examples, loss and accuracy, the client's
epsilon and timings. With ``--head private`` (the default) the classification head, whose rows
are the client's identities' class centres, stays in the node's state across rounds and on the
node's disk (``state-dir``), never in a message.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import fixedclipping_mod

from . import plan as run_plan
from .privacy import local_steps, sample_level_epsilon
from .task import BACKBONE_PREFIX, HEAD_PREFIX, LocalModel

KEY_CLIPPING_NORM = "clipping_norm"  # flwr.supercore.differential_privacy's key
_MODELS: dict[str, LocalModel] = {}  # one per run in this process, kept across rounds and clients


def _optional_clipping_mod(msg: Message, ctxt: Context, call_next):
    """``fixedclipping_mod`` when the server asks for client-side update clipping, else a pass-through."""
    if msg.metadata.message_type == MessageType.TRAIN:
        config = msg.content.config_records.get("config")
        if config is not None and KEY_CLIPPING_NORM in config:
            return fixedclipping_mod(msg, ctxt, call_next)
    return call_next(msg, ctxt)


def _optional_secagg_mod(msg: Message, ctxt: Context, call_next):
    """``secaggplus_mod`` for the messages of a SecAgg+ round, else a pass-through."""
    from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

    if msg.metadata.message_type == MessageType.TRAIN and RECORD_KEY_CONFIGS in msg.content.config_records:
        from flwr.client.mod import secaggplus_mod

        return secaggplus_mod(msg, ctxt, call_next)
    return call_next(msg, ctxt)


def to_record(arrays: dict[str, np.ndarray]) -> ArrayRecord:
    return ArrayRecord({k: Array(np.ascontiguousarray(v)) for k, v in arrays.items()})


def from_record(record: ArrayRecord) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in record.items()}


class _Client:
    """The client's identity, data and state folder, from its node config."""

    def __init__(self, context: Context, settings: dict[str, Any]) -> None:
        node = context.node_config
        self.settings = settings
        if "data-path" in node:
            self.key = f"node-{context.node_id}"
            self.partition = str(node.get("name", self.key))
            self.state_dir = Path(str(node.get("state-dir") or _default_state_dir(str(node["data-path"]))))
            self.data = run_plan.local_data(str(node["data-path"]), settings)
        else:
            pid = int(node["partition-id"])
            self.key, self.partition = f"partition-{pid}", str(pid)
            run_dir = Path(settings["run_dir"])
            self.state_dir = run_dir / "clients" / self.key
            self.data = run_plan.partition_data(run_dir, pid, settings)

    def model(self) -> LocalModel:
        run_id = self.settings["run_id"]
        classes = int(self.settings.get("head_classes") or self.data.num_classes)
        model = _MODELS.get(run_id)
        if model is None or model.head.num_classes != classes:
            _MODELS.clear()  # an earlier run's model: this process serves one run at a time
            seed = self.settings.get("seed")
            model = _MODELS[run_id] = LocalModel(self.settings, classes, seed)
        model.attach(self.data)
        return model

    # The node's own state: kept in Flower's node state and on the node's disk, so a resumed
    # run (a new process) finds its private head and its privacy history again.

    def load_state(self, context: Context) -> tuple[dict[str, np.ndarray] | None, dict[str, Any]]:
        head = from_record(context.state["head"]) if "head" in context.state.array_records else None
        meta = json.loads(str(context.state["meta"]["json"])) if "meta" in context.state.config_records else {}
        saved = self.state_dir / "state.npz"
        if head is None and saved.is_file():
            with np.load(saved, allow_pickle=False) as data:
                head = {k: data[k] for k in data.files if k.startswith(HEAD_PREFIX)}
                meta = json.loads(bytes(data["meta"]).decode()) if "meta" in data.files else {}
        return head, meta

    def save_state(self, context: Context, head: dict[str, np.ndarray] | None, meta: dict[str, Any]) -> None:
        if head is not None:
            context.state["head"] = to_record(head)
        context.state["meta"] = ConfigRecord({"json": json.dumps(meta)})
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "state.tmp.npz"
        payload = dict(head or {})
        payload["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        np.savez(tmp, **payload)
        os.replace(tmp, self.state_dir / "state.npz")


def _default_state_dir(data_path: str) -> Path:
    """Beside the user's home, never inside the data folder (it would look like an identity)."""
    digest = hashlib.sha256(os.path.realpath(data_path).encode()).hexdigest()[:16]
    return Path.home() / ".privface" / "supernode-state" / digest


def _record(settings: dict[str, Any], server_round: int, partition: str, arrays: dict[str, np.ndarray],
            weight: int) -> None:
    """Test hook (``extra.record_updates``): what this client sent, to check the secure sum against."""
    folder = Path(settings["run_dir"]) / "updates"
    folder.mkdir(exist_ok=True)
    np.savez(folder / f"{server_round}-{partition}.npz", num_examples=weight,
             **{k.replace("/", "_"): v for k, v in arrays.items()})


def _settings(msg: Message) -> dict[str, Any]:
    return json.loads(str(msg.content["config"]["settings"]))


app = ClientApp(mods=[_optional_secagg_mod, _optional_clipping_mod])


@app.train()
def train(msg: Message, context: Context) -> Message:
    from .secagg import legacy_reply, legacy_request

    secure = legacy_request(msg.content)  # a SecAgg+ round speaks Flower's legacy fitins/fitres
    if secure is not None:
        settings, server_round, parameters = secure
        received = {f"{BACKBONE_PREFIX}{i:03d}": a for i, a in enumerate(parameters)}
    else:
        settings = _settings(msg)
        server_round = int(msg.content["config"]["server-round"])
        received = from_record(msg.content["arrays"])
    client = _Client(context, settings)
    failure = settings.get("inject_failure") or {}
    if failure and str(failure.get("client")) == client.partition and int(failure.get("round", 0)) == server_round:
        raise RuntimeError(f"injected failure in round {server_round}")
    model = client.model()
    head, meta = client.load_state(context)
    model.load(received)
    shared = settings["head"] == "shared"
    if not shared:
        model.load({**model.backbone_arrays(), **(head or model.initial_head)})
    rng = np.random.default_rng([settings.get("seed") or 0, server_round, int(client.partition)
                                 if client.partition.isdigit() else context.node_id % 2**31])
    stats = model.fit(settings["local_epochs"], rng)
    rounds = int(meta.get("rounds", 0)) + 1
    meta = {**meta, "rounds": rounds}
    out = model.backbone_arrays()
    if shared:
        out.update(model.head_arrays())
        out["counts/classes"] = model.data.class_counts()
        client.save_state(context, None, meta)
    else:
        client.save_state(context, model.head_arrays(), meta)
    n = model.data.num_train
    metrics = {"num-examples": n, "dp-weight": 1.0, "loss": float(stats["loss"]),
               "accuracy": float(stats["accuracy"])}
    info: dict[str, Any] = {"partition": client.partition, "examples": n, "steps": int(stats["steps"]),
                            "seconds": round(float(stats["seconds"]), 3), "rounds": rounds,
                            "identities": int(len(np.unique(model.data.labels[model.data.train])))}
    if settings["dp_level"] == "sample":
        info["epsilon"] = sample_level_epsilon(n, settings["batch_size"], settings["local_epochs"], rounds,
                                               settings["noise"], settings["delta"], settings["accountant"])
        info["local_steps"] = local_steps(n, settings["batch_size"], settings["local_epochs"])
        info["clipped_fraction"] = float(stats["clipped_fraction"])
    if settings.get("record_updates") and secure is None:
        _record(settings, server_round, client.partition, out, n)
    if secure is not None:
        values = list(out.values())
        weight = n
        if settings["dp_level"] == "client":
            # What fixedclipping_mod does on the Message-API path: the update clipped to C. Equal
            # weights, as client-level DP assumes; the server adds the noise to the unmasked mean.
            from flwr.supercore.differential_privacy import compute_clip_model_update

            compute_clip_model_update(values, [received[k] for k in out], float(settings["l2_norm_clip"]))
            weight = 1
        if settings.get("record_updates"):
            _record(settings, server_round, client.partition, dict(zip(out, values, strict=True)), weight)
        content = legacy_reply(values, weight, {**info, "loss": metrics["loss"], "accuracy": metrics["accuracy"]})
        return Message(content, reply_to=msg)
    content = RecordDict({"arrays": to_record(out), "metrics": MetricRecord(metrics),
                          "client": ConfigRecord(info)})
    return Message(content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    settings = _settings(msg)
    client = _Client(context, settings)
    model = client.model()
    head, _ = client.load_state(context)
    arrays = from_record(msg.content["arrays"])
    model.load(arrays if settings["head"] == "shared" else {**arrays, **(head or model.initial_head)})
    result = model.evaluate(audit=bool(msg.content["config"].get("audit", False)))
    metrics = {"num-examples": len(model.data.held), **result}
    info = {"partition": client.partition}
    return Message(RecordDict({"metrics": MetricRecord(metrics), "client": ConfigRecord(info)}), reply_to=msg)
