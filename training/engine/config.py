"""Every parameter of a centralized training run, in one dataclass (arcface_torch style).

Field names are the CLI's flag names (``--batch_size`` sets ``batch_size``), so a bad value
names the flag on the command line and the field in the web tier. No TensorFlow here: the
web tier builds and validates configs without loading it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

from privface_core.errors import ConfigError, UserError
from training.engine import dp_params
from training.engine.dp_params import ACCOUNTANTS, MAX_BATCH_SIZE, MAX_EPOCHS  # noqa: F401 - ACCOUNTANTS re-exported

BACKBONES = ("mobilefacenet", "iresnet18", "iresnet50")  # models.BACKBONES, without importing Keras
HEADS = ("arcface", "cosface", "softmax")
OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("constant", "cosine", "step")
# Upper bounds: every input that drives computation has one (FIELD_BOUNDS below; the form fetches it).
MAX_EMBEDDING_SIZE = 4096
MAX_IMAGE_SIZE = 1024
MAX_SEED = 2**32 - 1
MAX_THREADS = 256
MAX_TRAIN_EVAL_SAMPLES = 1_000_000
MAX_DEVICES = 64


@dataclass(frozen=True)
class Bound:
    """A numeric field's range: what ``validate()`` enforces and ``GET /api/*/limits/`` serves,
    so the dashboard's forms check the server's limits instead of a copy of them."""

    min: float
    max: float | None = None  # None: no upper limit (or one that depends on another field)
    integer: bool = False
    min_exclusive: bool = False
    max_exclusive: bool = False
    at_most: str | None = None  # another field whose value is the upper limit (warmup_epochs: epochs)
    wording: str | None = None  # the server's message for a non-integer field ("a positive number")

    def to_dict(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "integer": self.integer, "min_exclusive": self.min_exclusive,
                "max_exclusive": self.max_exclusive, "at_most": self.at_most}


def _privacy_bounds(bounds: dp_params.Bounds) -> dict[str, Bound]:
    """The DP fields' ranges as ``dp_params.check(..., bounds=bounds)`` enforces them."""
    return {
        "delta": Bound(0, 1, min_exclusive=True, max_exclusive=True),
        "noise_multiplier": Bound(0, bounds.noise_multiplier),
        "target_epsilon": Bound(bounds.smallest, bounds.target_epsilon, min_exclusive=bounds.smallest == 0),
    }


# Every numeric field's range, read by validate() (the one copy; the forms fetch it).
FIELD_BOUNDS: dict[str, Bound] = {
    "image_size": Bound(16, MAX_IMAGE_SIZE, integer=True),
    "embedding_size": Bound(1, MAX_EMBEDDING_SIZE, integer=True),
    "epochs": Bound(1, MAX_EPOCHS, integer=True),
    "batch_size": Bound(1, MAX_BATCH_SIZE, integer=True),
    "eval_batch_size": Bound(1, MAX_BATCH_SIZE, integer=True),
    "train_eval_samples": Bound(0, MAX_TRAIN_EVAL_SAMPLES, integer=True),
    "prefetch_batches": Bound(0, MAX_THREADS, integer=True),
    "decode_threads": Bound(0, MAX_THREADS, integer=True),
    "seed": Bound(0, MAX_SEED, integer=True),
    "holdout_fraction": Bound(0, 0.5, wording="between 0 and 0.5"),
    "lr": Bound(0, None, min_exclusive=True, wording="a positive number"),
    "momentum": Bound(0, 1, max_exclusive=True, wording="in [0, 1)"),
    "weight_decay": Bound(0, None, wording="a number >= 0"),
    "warmup_epochs": Bound(0, None, at_most="epochs"),
    "l2_norm_clip": Bound(0, None, min_exclusive=True, wording="a positive number"),
    **_privacy_bounds(dp_params.UNBOUNDED),
}


@dataclass
class TrainConfig:
    # Data: an extracted folder (``<label>/<key>.jpg`` + manifest.jsonl) or a .rec + .idx.
    dataset_path: str | None = None
    rec_file: str | None = None
    idx_file: str | None = None
    image_size: int = 112  # model input side; images of another size are resized
    holdout_fraction: float = 0.1  # per identity, never trained on: the MIA audit's non-members
    flip: bool = True  # random horizontal flip of training images
    eval_bin: str | None = None  # insightface verification .bin (e.g. lfw.bin)
    # Model.
    model: str = "mobilefacenet"
    head: str = "arcface"
    embedding_size: int = 512
    # Optimisation.
    epochs: int = 20
    batch_size: int = 128  # DP: the expected (Poisson) batch size
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9  # SGD momentum; Adam's beta_1
    weight_decay: float = 5e-4  # decoupled; touches no data, so it costs no privacy
    lr_schedule: str = "cosine"
    lr_steps: tuple[int, ...] = ()  # "step" schedule: epochs after which the LR is divided by 10
    warmup_epochs: float = 0.0
    # Privacy.
    use_dp: bool = False
    l2_norm_clip: float = 1.0
    noise_multiplier: float | None = None  # DP: give this or target_epsilon (or both: target is then a cap)
    target_epsilon: float | None = None
    delta: float = 1e-5
    accountant: str = "rdp"
    # Run.
    output_dir: str = "var/training/run"
    resume: bool = False
    seed: int | None = None  # None: drawn from the OS and kept in the checkpoint
    train_eval_samples: int = 2048  # training images re-evaluated each epoch for train accuracy
    eval_batch_size: int = 256
    prefetch_batches: int = 2
    decode_threads: int = 0  # batches decoded at once; 0: tf.data picks (AUTOTUNE)
    mixed_precision: bool | None = None  # None: on when a GPU is present (non-DP runs only)
    devices: tuple[str, ...] = ()  # mirror over these (e.g. "/gpu:0", "/gpu:1"); default: all GPUs if several
    dataset_name: str | None = None  # for the model card; default: the folder or .rec name
    extra: dict[str, Any] = field(default_factory=dict)  # caller's notes, copied into the model card

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["lr_steps"] = list(self.lr_steps)
        data["devices"] = list(self.devices)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UserError(f"unknown training parameter(s): {', '.join(unknown)}")
        types = {f.name: f.type for f in dataclasses.fields(cls)}
        values = {name: _typed(name, value, types[name]) for name, value in data.items()}
        return cls(**values)

    @property
    def source_path(self) -> str:
        return self.dataset_path or self.rec_file or ""

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first bad field; checks that need the data come later."""
        _check_data(self)
        _choice("model", self.model, BACKBONES)
        _choice("head", self.head, HEADS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        bounds = FIELD_BOUNDS
        for name in ("image_size", "embedding_size", "epochs", "batch_size", "eval_batch_size"):
            _positive_int(name, getattr(self, name), bounds[name].max)
        if self.image_size < bounds["image_size"].min:
            raise ConfigError("image_size", f"must be at least {bounds['image_size'].min}, got {self.image_size}")
        for name in ("train_eval_samples", "prefetch_batches", "decode_threads"):
            value, high = getattr(self, name), bounds[name].max
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
                raise ConfigError(name, f"must be a whole number from 0 to {high}, got {value!r}")
        seed = bounds["seed"]
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not seed.min <= self.seed <= seed.max):
            raise ConfigError("seed", f"must be a whole number from {seed.min} to {seed.max}, got {self.seed!r}")
        if len(self.devices) > MAX_DEVICES or any(not _DEVICE.match(d) for d in self.devices):
            raise ConfigError("devices", f"must be device names such as /gpu:0, got {list(self.devices)}")
        for name in ("holdout_fraction", "lr", "momentum", "weight_decay"):
            _bounded(name, getattr(self, name), bounds[name])
        warmup = bounds["warmup_epochs"]
        _number("warmup_epochs", self.warmup_epochs, warmup.min, getattr(self, warmup.at_most),
                f"between 0 and --epochs ({self.epochs})")
        if any(not isinstance(e, int) or not 0 < e < self.epochs for e in self.lr_steps):
            raise ConfigError("lr_steps", f"must be whole epochs between 1 and {self.epochs - 1}, got {self.lr_steps}")
        _bounded("l2_norm_clip", self.l2_norm_clip, bounds["l2_norm_clip"])
        dp_params.check(delta=self.delta, noise_multiplier=self.noise_multiplier, target_epsilon=self.target_epsilon,
                        accountant=self.accountant)
        if self.use_dp and self.noise_multiplier is None and self.target_epsilon is None:
            raise ConfigError("use_dp", "needs --noise_multiplier or --target_epsilon")
        if not self.use_dp and (self.noise_multiplier is not None or self.target_epsilon is not None):
            name = "noise_multiplier" if self.noise_multiplier is not None else "target_epsilon"
            raise ConfigError(name, "only applies with --use_dp")
        if not self.output_dir:
            raise ConfigError("output_dir", "must not be empty")


def _check_data(config: TrainConfig) -> None:
    if config.dataset_path and (config.rec_file or config.idx_file):
        raise ConfigError("dataset_path", "cannot be combined with --rec_file/--idx_file")
    if config.idx_file and not config.rec_file and not config.dataset_path:
        raise ConfigError("rec_file", "is required with --idx_file")
    if not config.dataset_path and not config.rec_file:
        raise ConfigError("dataset_path", "or --rec_file with --idx_file is required")
    if config.rec_file and not config.idx_file:
        # Poisson sampling draws records at random: that needs the offsets in the .idx.
        raise ConfigError("idx_file", "is required with --rec_file (training reads records by offset)")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")


def _positive_int(name: str, value: Any, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(name, f"must be a whole number >= 1, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(name, f"must be a whole number from 1 to {high}, got {value!r}")


_DEVICE = re.compile(r"^/(gpu|cpu|GPU|CPU):[0-9]{1,3}$")
_WORDING = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "a string"}
_PLURAL = {"int": "whole numbers", "float": "numbers", "bool": "booleans", "str": "strings"}


def _scalar(value: Any, kind: str) -> tuple[bool, Any]:
    """(fits, value converted) for one of the scalar kinds of TrainConfig's annotations."""
    if kind == "bool":
        return isinstance(value, bool), value
    if isinstance(value, bool):
        return False, value
    if kind == "int":
        return isinstance(value, int), value
    if kind == "float":
        return isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else value
    if kind == "str":
        return isinstance(value, str), value
    return True, value


def _typed(name: str, value: Any, annotation: str) -> Any:
    """``value`` checked against the field's annotation (``int``, ``float | None``,
    ``tuple[int, ...]`` ...): a value of the wrong type is a ConfigError naming the field,
    not a TypeError later (``"lr_steps": 5``, ``"devices": 3``, ``"seed": "abc"``)."""
    kinds = [part.strip() for part in annotation.split("|")]
    if value is None:
        if "None" in kinds:
            return None
        raise ConfigError(name, "must not be null")
    kind = next(k for k in kinds if k != "None")
    if kind.startswith("tuple["):
        item = kind[len("tuple["):].split(",")[0].strip()
        if not isinstance(value, (list, tuple)):
            raise ConfigError(name, f"must be a list of {_PLURAL[item]}, got {value!r}")
        items = []
        for element in value:
            fits, converted = _scalar(element, item)
            if not fits:
                raise ConfigError(name, f"must be a list of {_PLURAL[item]}, got {value!r}")
            items.append(converted)
        return tuple(items)
    if kind.startswith("dict"):
        if not isinstance(value, dict):
            raise ConfigError(name, f"must be an object, got {value!r}")
        return value
    fits, converted = _scalar(value, kind)
    if not fits:
        raise ConfigError(name, f"must be {_WORDING.get(kind, kind)}, got {value!r}")
    return converted


def _bounded(name: str, value: Any, bound: Bound) -> None:
    """A non-integer field checked against its table entry (the entry's wording in the message)."""
    _number(name, value, bound.min, bound.max, bound.wording or "", strict_low=bound.min_exclusive,
            strict_high=bound.max_exclusive)


def _number(
    name: str,
    value: Any,
    low: float,
    high: float | None,
    wording: str,
    strict_low: bool = False,
    strict_high: bool = False,
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > low if strict_low else value >= low
    if ok and high is not None:
        ok = value < high if strict_high else value <= high
    if not ok:
        raise ConfigError(name, f"must be {wording}, got {value!r}")
