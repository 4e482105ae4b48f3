"""One checkpoint file per run, replaced atomically at the end of every epoch.

``checkpoint.npz`` holds the variables (model, head, optimizer slots, the noise generator's
state) as arrays ``v0, v1, ...`` in a fixed order, and the run's state (step count,
accountant history, seed, label map, history) as JSON in ``state``. Rebuilding the same
model and optimizer gives the same variable order, so restoring is a list of assigns.
One file written to a temporary name and renamed: a crash mid-save leaves the previous
checkpoint intact.

The checkpoint is as private as the training data: with the noise generator's state, the
noise added in every later step can be regenerated (and subtracted). Only ``export/`` is
meant to leave the machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

FILENAME = "checkpoint.npz"
FORMAT = 1


def path_in(output_dir: str | os.PathLike[str]) -> Path:
    return Path(output_dir) / FILENAME


def save(output_dir: str | os.PathLike[str], arrays: list[np.ndarray], state: dict[str, Any]) -> Path:
    path = path_in(output_dir)
    tmp = path.with_name(path.name + ".tmp")
    payload = {f"v{i}": a for i, a in enumerate(arrays)}
    payload["state"] = np.frombuffer(json.dumps({"format": FORMAT, **state}).encode(), dtype=np.uint8)
    with open(tmp, "wb") as f:
        np.savez(f, **payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load(output_dir: str | os.PathLike[str]) -> tuple[list[np.ndarray], dict[str, Any]] | None:
    """``(arrays, state)`` of the run's checkpoint, or None if there is none."""
    path = path_in(output_dir)
    if not path.is_file():
        return None
    # allow_pickle=False: a checkpoint is arrays and JSON, never code.
    with np.load(path, allow_pickle=False) as data:
        state = json.loads(bytes(data["state"]).decode())
        count = sum(1 for name in data.files if name.startswith("v"))
        arrays = [data[f"v{i}"] for i in range(count)]
    if state.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown checkpoint format {state.get('format')!r}")
    return arrays, state
