"""Where each client's images come from.

Simulation: the server-side dataset is split once (``partition``) and the split is written to
``plan.json`` in the run folder, so a resumed run gives every client the same images and
every client process reads only its own part. Deployment: a SuperNode's ``data-path`` holds
the client's images; they are read where they are.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privface_core.errors import UserError
from training.engine.data import ImageSource, LabelMap, holdout_split, open_source

from .config import FederatedConfig
from .partition import describe, partition

PLAN_FILE = "plan.json"


@dataclass
class ClientData:
    """One client's images: source positions, head labels by source position, the split."""

    source: ImageSource
    labels: np.ndarray  # class index of every source position this client holds (-1 elsewhere)
    num_classes: int
    train: np.ndarray  # source positions trained on
    held: np.ndarray  # source positions held out (membership audit, held-out accuracy)

    @classmethod
    def split(cls, source: ImageSource, positions: np.ndarray, classes: np.ndarray, num_classes: int,
              holdout_fraction: float, seed: int) -> ClientData:
        """``classes[i]`` is the head class of ``positions[i]``."""
        rng = np.random.default_rng([seed, 11])
        train, held = holdout_split(classes, holdout_fraction, rng)
        labels = np.full(len(source.raw_labels), -1, np.int32)
        labels[positions] = classes
        return cls(source, labels, num_classes, np.asarray(positions)[train], np.asarray(positions)[held])

    @property
    def num_train(self) -> int:
        return len(self.train)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.labels[self.train], minlength=self.num_classes).astype(np.float32)


def source_of(config: FederatedConfig) -> dict[str, str]:
    if config.data_dir:
        return {"dataset_path": config.data_dir}
    return {"rec_file": str(config.rec_file), "idx_file": str(config.idx_file)}


def _open(spec: dict[str, str]) -> ImageSource:
    return open_source(spec.get("dataset_path"), spec.get("rec_file"), spec.get("idx_file"))


def make_plan(config: FederatedConfig, run_dir: Path, seed: int) -> dict[str, Any]:
    """Partition the dataset (or read the plan a resumed run already made)."""
    path = run_dir / PLAN_FILE
    if path.is_file():
        return json.loads(path.read_text())
    spec = source_of(config)
    source = _open(spec)
    try:
        labels = LabelMap.fit(source.raw_labels).encode(source.raw_labels)
        description = source.describe()
    finally:
        source.close()
    parts = partition(labels, config.num_clients, config.partition, config.alpha, seed)
    plan = {
        "source": spec,
        "source_description": description,
        "images": int(len(labels)),
        "identities": int(len(np.unique(labels))),
        "parts": [p.tolist() for p in parts],
        "clients": describe(labels, parts),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(plan))
    tmp.replace(path)
    return plan


@functools.cache
def _read_plan(run_dir: str) -> dict[str, Any]:
    return json.loads((Path(run_dir) / PLAN_FILE).read_text())


@functools.cache
def _source(spec_json: str) -> ImageSource:
    return _open(json.loads(spec_json))  # one open source per client process


def partition_data(run_dir: Path, pid: int, settings: dict[str, Any]) -> ClientData:
    plan = _read_plan(str(run_dir))
    source = _source(json.dumps(plan["source"], sort_keys=True))
    positions = np.asarray(plan["parts"][pid], np.int64)
    global_labels = LabelMap.fit(source.raw_labels).encode(source.raw_labels)
    return _client_data(source, positions, global_labels, settings, pid)


def local_data(data_path: str, settings: dict[str, Any]) -> ClientData:
    """A SuperNode's own images: an extracted folder, or ``train.rec`` + ``train.idx`` in a folder."""
    folder = Path(data_path)
    rec = folder / "train.rec" if folder.is_dir() else folder
    if rec.suffix == ".rec" and rec.is_file():
        spec = {"rec_file": str(rec), "idx_file": str(rec.with_suffix(".idx"))}
    elif folder.is_dir():
        spec = {"dataset_path": str(folder)}
    else:
        raise UserError(f"data-path {data_path}: no such folder or .rec file on this node")
    source = _source(json.dumps(spec, sort_keys=True))
    labels = LabelMap.fit(source.raw_labels).encode(source.raw_labels)
    return _client_data(source, np.arange(len(labels)), labels, settings, 0)


def _client_data(source: ImageSource, positions: np.ndarray, global_labels: np.ndarray,
                 settings: dict[str, Any], pid: int) -> ClientData:
    mine = global_labels[positions]
    if settings["head"] == "shared":
        classes, num_classes = mine, int(global_labels.max()) + 1
    else:  # the private head knows only this client's identities
        local = np.unique(mine)
        classes, num_classes = np.searchsorted(local, mine).astype(np.int32), len(local)
    seed = (settings.get("seed") or 0) + pid
    return ClientData.split(source, positions, classes, num_classes, settings["holdout_fraction"], seed)


def num_train_per_client(plan: dict[str, Any], holdout_fraction: float) -> list[int]:
    """Training images of each client (what its DP-SGD's N is), before any client runs."""
    from training.engine.data import held_out_count

    source = _source(json.dumps(plan["source"], sort_keys=True))
    labels = LabelMap.fit(source.raw_labels).encode(source.raw_labels)
    sizes = []
    for part in plan["parts"]:
        _, counts = np.unique(labels[np.asarray(part, np.int64)], return_counts=True)
        sizes.append(int(sum(int(c) - held_out_count(int(c), holdout_fraction) for c in counts)))
    return sizes
