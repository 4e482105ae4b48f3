"""Every parameter of a federated run, in one dataclass (the CLI's flag names are its fields).

No TensorFlow or Flower here: the web tier and ``run.py federated -h`` build and validate
configs without loading either. Local training reuses the centralized trainer's pieces
(backbones, heads, DP-SGD, optimizers), so those fields mean what they mean in ``TrainConfig``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from privface_core.errors import UserError
from training.engine import dp_params
from training.engine.config import (
    BACKBONES,
    HEADS,
    OPTIMIZERS,
    Bound,
    ConfigError,
    _bounded,
    _choice,
    _privacy_bounds,
)

PARTITIONS = ("by_identity", "iid", "dirichlet")
HEAD_POLICIES = ("private", "shared")
DP_LEVELS = ("none", "sample", "client")
CLIENT_CLIPPING = ("server", "client")
# Upper bounds: every input that drives cost has one (a web request must not queue days of work).
MAX_CLIENTS = 1000
MAX_ROUNDS = 1000
MAX_LOCAL_EPOCHS = 100
MAX_EMBEDDING = 2048
MAX_IMAGE_SIZE = 224
# The privacy parameters' bounds; dp_params checks them as for centralized training.
PRIVACY_BOUNDS = dp_params.Bounds(noise_multiplier=dp_params.MAX_NOISE_MULTIPLIER, target_epsilon=1e6)
# --use_dp alone: sample-level DP-SGD with this noise (a common DP-SGD choice: eps of a few at N~1e4).
DEFAULT_NOISE = 1.0
# Every numeric field's range, read by validate() (the one copy; the form fetches it).
# clients_per_round and min_clients are also at most the clients (per round): checked below.
FIELD_BOUNDS: dict[str, Bound] = {
    "num_clients": Bound(2, MAX_CLIENTS, integer=True),
    "num_rounds": Bound(1, MAX_ROUNDS, integer=True),
    "local_epochs": Bound(1, MAX_LOCAL_EPOCHS, integer=True),
    "embedding_size": Bound(8, MAX_EMBEDDING, integer=True),
    "image_size": Bound(16, MAX_IMAGE_SIZE, integer=True),
    "batch_size": Bound(1, 4096, integer=True),
    "clients_per_round": Bound(1, MAX_CLIENTS, integer=True),
    "min_clients": Bound(1, MAX_CLIENTS, integer=True),
    "seed": Bound(0, 2**63 - 1, integer=True),
    "alpha": Bound(0, 1e6, min_exclusive=True, wording="a positive number"),
    "holdout_fraction": Bound(0, 0.5, wording="between 0 and 0.5"),
    "lr": Bound(0, 10, min_exclusive=True, wording="a positive number up to 10"),
    "momentum": Bound(0, 1, max_exclusive=True, wording="in [0, 1)"),
    "weight_decay": Bound(0, 1, wording="between 0 and 1"),
    "round_timeout": Bound(1, 7 * 86400, wording="between 1 and 604800 seconds"),
    "client_cpus": Bound(0, 64, min_exclusive=True, wording="a positive number of CPUs"),
    "l2_norm_clip": Bound(0, 1e6, min_exclusive=True, wording="a positive number"),
    **_privacy_bounds(PRIVACY_BOUNDS),
}


@dataclass
class FederatedConfig:
    # Data: a server-side dataset partitioned among simulated clients.
    data_dir: str | None = None  # an extracted folder (``<label>/<key>.jpg`` + manifest.jsonl)
    rec_file: str | None = None
    idx_file: str | None = None
    eval_bin: str | None = None  # verification pairs for the global model after every round
    dataset_name: str | None = None
    image_size: int = 112
    holdout_fraction: float = 0.1  # per identity on each client: the membership audit's non-members
    flip: bool = True
    # Federation.
    num_clients: int = 5
    num_rounds: int = 10
    clients_per_round: int | None = None  # None: every client every round
    min_clients: int | None = None  # fewest replies a round aggregates; None: max(1, clients_per_round // 2)
    partition: str = "by_identity"
    alpha: float = 0.5  # Dirichlet concentration for ``partition = dirichlet``
    head: str = "private"  # private: each client keeps its classification head; shared: averaged per row
    local_epochs: int = 1
    round_timeout: float = 3600.0  # seconds the server waits for a round's replies
    # Model and local optimisation (as in centralized training).
    model: str = "mobilefacenet"
    head_type: str = "arcface"
    embedding_size: int = 512
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    # Privacy.
    use_dp: bool = False  # alone: sample-level DP-SGD with DEFAULT_NOISE
    dp_level: str | None = None  # none | sample | client; None: sample with --use_dp, none without
    noise_multiplier: float | None = None
    target_epsilon: float | None = None
    l2_norm_clip: float = 1.0  # sample: per-example gradient clip; client: model-update clip
    clipping: str = "client"  # client-level DP: who clips the updates (SecAgg needs "client")
    delta: float = 1e-5
    accountant: str = "rdp"
    secagg: bool = False
    # Run.
    superlink: str | None = None  # HOST:PORT of a Flower SuperLink: deployment instead of simulation
    output_dir: str = "var/federated/run"
    resume: bool = False
    seed: int | None = None
    client_cpus: float = 1.0  # Ray resources per simulated client (2 cores: two clients at once)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FederatedConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise UserError(f"unknown federated parameter(s): {', '.join(unknown)}")
        return cls(**data)

    # -- derived ---------------------------------------------------------------------------

    @property
    def level(self) -> str:
        """The DP level in force: ``none``, ``sample`` or ``client``."""
        if self.dp_level is not None:
            return self.dp_level
        return "sample" if self.use_dp else "none"

    @property
    def sampled(self) -> int:
        """Clients asked to train in each round."""
        return self.clients_per_round or self.num_clients

    @property
    def min_replies(self) -> int:
        return self.min_clients if self.min_clients is not None else max(1, self.sampled // 2)

    @property
    def noise(self) -> float | None:
        """The noise multiplier given (or the default for ``--use_dp`` alone); None to calibrate."""
        if self.level == "none":
            return None
        if self.noise_multiplier is None and self.target_epsilon is None:
            return DEFAULT_NOISE
        return self.noise_multiplier

    # -- checks ----------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first bad field; checks that need the data come later."""
        _data(self)
        for flag in ("use_dp", "secagg", "flip", "resume"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(flag, f"must be true or false, got {getattr(self, flag)!r}")
        for text in ("data_dir", "rec_file", "idx_file", "eval_bin", "superlink", "dataset_name"):
            if getattr(self, text) is not None and not isinstance(getattr(self, text), str):
                raise ConfigError(text, "must be a string")
        _choice("model", self.model, BACKBONES)
        _choice("head_type", self.head_type, HEADS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("partition", self.partition, PARTITIONS)
        _choice("head", self.head, HEAD_POLICIES)
        _choice("clipping", self.clipping, CLIENT_CLIPPING)
        if self.dp_level is not None:
            _choice("dp_level", self.dp_level, DP_LEVELS)
            if self.dp_level == "none" and self.use_dp:
                raise ConfigError("dp_level", "none contradicts --use_dp")
        bounds = FIELD_BOUNDS
        for name in ("num_clients", "num_rounds", "local_epochs", "embedding_size", "image_size", "batch_size"):
            _whole(name, getattr(self, name), bounds[name])
        if self.clients_per_round is not None:
            _whole("clients_per_round", self.clients_per_round, bounds["clients_per_round"], self.num_clients)
        if self.min_clients is not None:
            _whole("min_clients", self.min_clients, bounds["min_clients"], self.sampled)
        if self.seed is not None:
            _whole("seed", self.seed, bounds["seed"])
        for name in ("alpha", "holdout_fraction", "lr", "momentum", "weight_decay", "round_timeout", "client_cpus",
                     "l2_norm_clip"):
            _bounded(name, getattr(self, name), bounds[name])
        dp_params.check(delta=self.delta, noise_multiplier=self.noise_multiplier, target_epsilon=self.target_epsilon,
                        accountant=self.accountant, bounds=PRIVACY_BOUNDS)
        if self.level == "none" and (self.noise_multiplier is not None or self.target_epsilon is not None):
            name = "noise_multiplier" if self.noise_multiplier is not None else "target_epsilon"
            raise ConfigError(name, "only applies with --use_dp or --dp_level sample|client")
        if self.head == "shared" and self.partition != "iid":
            raise ConfigError("head", "shared is for --partition iid (with disjoint identities a shared head"
                                      " would carry every client's class centres to every other)")
        if self.head == "shared" and self.level == "client":
            raise ConfigError("head", "shared cannot be combined with --dp_level client (rows are averaged"
                                      " over different client counts, which the update clipping does not cover)")
        if self.secagg and self.level == "client" and self.clipping != "client":
            raise ConfigError("clipping", "must be client with --secagg: the server never sees single updates")
        if self.secagg and self.head == "shared":
            raise ConfigError("secagg", "needs --head private (only the backbone is aggregated securely)")
        if self.secagg and self.sampled < 3:
            raise ConfigError("secagg", "needs at least 3 clients per round (two could unmask each other)")
        if self.superlink is not None and self.head == "shared":
            raise ConfigError("head", "shared needs a server-side dataset (simulation): SuperNodes' identities differ")
        if self.superlink is not None:
            host, _, port = self.superlink.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError("superlink", f"must be HOST:PORT, got {self.superlink!r}")
        if not self.output_dir:
            raise ConfigError("output_dir", "must not be empty")


def _data(config: FederatedConfig) -> None:
    if config.superlink is not None and not (config.data_dir or config.rec_file):
        return  # deployment: every SuperNode reads its own data; the server needs none
    if config.data_dir and (config.rec_file or config.idx_file):
        raise ConfigError("data_dir", "cannot be combined with --rec_file/--idx_file")
    if not config.data_dir and not config.rec_file:
        raise ConfigError("data_dir", "or --rec_file with --idx_file is required")
    if config.rec_file and not config.idx_file:
        raise ConfigError("idx_file", "is required with --rec_file (clients read records by offset)")


def _whole(name: str, value: Any, bound: Bound, at_most: int | None = None) -> None:
    """A whole-number field in its table's range (and at most ``at_most``, another field's value)."""
    low = int(bound.min)
    high = int(bound.max if at_most is None else at_most)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}, got {value!r}")
