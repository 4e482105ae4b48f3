"""What leaves a training run: the embedding backbone (no head) and its model card.

The classification head is left out on purpose: its rows are per-identity class centres,
which say more about the training identities than an embedding model needs to, and
inference only needs embeddings. ``backbone.keras`` loads with ``keras.saving.load_model``
once ``training.engine.dp_layers`` is imported (its layers are registered there).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import keras

from training.engine.json_safe import json_safe

EXPORT_DIR = "export"
BACKBONE_FILE = "backbone.keras"
CARD_FILE = "model_card.json"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def framework_versions() -> dict[str, str | None]:
    import numpy
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "dp-accounting": _version("dp-accounting"),
        "opencv": _version("opencv-python-headless") or _version("opencv-python"),
    }


def export(output_dir: str | os.PathLike[str], backbone: keras.Model, card: dict[str, Any]) -> Path:
    """Write ``export/backbone.keras`` and ``export/model_card.json``; return the folder."""
    folder = Path(output_dir) / EXPORT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{BACKBONE_FILE}.tmp.keras"  # Keras insists on the .keras suffix
    with warnings.catch_warnings():
        # Keras' own saving code trips NumPy 2's __array__(copy=) deprecation; nothing to act on here.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"keras\.")
        backbone.save(tmp)
    os.replace(tmp, folder / BACKBONE_FILE)
    card = dict(card)
    card["created"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    card["framework"] = framework_versions()
    tmp_card = folder / f".{CARD_FILE}.tmp"
    tmp_card.write_text(json.dumps(json_safe(card), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp_card, folder / CARD_FILE)
    return folder


class BackboneError(ValueError):
    """A file that is not a loadable backbone; ``str()`` is one line naming the file."""


def load_backbone(path: str | os.PathLike[str]) -> keras.Model:
    """The one loader of exported backbones (centralized and federated; CLI, workers, tests).

    Registers the project's custom layers first; any failure is a one-line BackboneError.
    """
    from training.engine import dp_layers  # noqa: F401  (registers the custom layers)

    path = Path(path)
    if not path.is_file():
        raise BackboneError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"keras\.")
            return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types, with many-line messages
        detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise BackboneError(f"{path}: not a loadable Keras backbone ({detail[:160]})") from None
