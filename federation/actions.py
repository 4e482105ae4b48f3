"""Every write of the federation app: starting federated runs (their models register through
``training.actions.register_export``, like centralized ones, and charge the same ledger)."""

from __future__ import annotations

from django.conf import settings

from datasets.models import Dataset, DatasetStatus
from jobs import actions as job_actions
from privface_core.errors import Conflict, UserError

# What a request may set; the data paths, the run folder and the SuperLink are the server's.
USER_FIELDS = frozenset({
    "num_clients", "num_rounds", "clients_per_round", "min_clients", "partition", "alpha", "head", "local_epochs",
    "model", "head_type", "embedding_size", "image_size", "batch_size", "optimizer", "lr", "momentum",
    "weight_decay", "use_dp", "dp_level", "noise_multiplier", "target_epsilon", "l2_norm_clip", "clipping", "delta",
    "accountant", "secagg", "seed", "holdout_fraction", "flip",
})
MODES = ("simulation", "deployment")


def build_config(dataset: Dataset, overrides: dict, mode: str = "simulation"):
    """A validated FederatedConfig for ``dataset``: the user's fields over the defaults."""
    from federation.engine.config import FederatedConfig

    if not isinstance(overrides, dict):
        raise UserError("config must be an object")
    unknown = sorted(set(overrides) - set(FederatedConfig.__dataclass_fields__))
    if unknown:
        raise UserError(f"unknown federated parameter(s): {', '.join(unknown)}")
    server_side = sorted(set(overrides) - USER_FIELDS)
    if server_side:
        raise UserError(f"{', '.join(server_side)}: set by the server, not by a request")
    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)}")
    source: dict = {}
    if mode == "deployment":
        if not settings.FLOWER_SUPERLINK:
            raise UserError("mode deployment needs FLOWER_SUPERLINK set on the server")
        source["superlink"] = settings.FLOWER_SUPERLINK
    elif dataset.extract_images:
        source["data_dir"] = str(dataset.extracted_dir)
    else:
        files = {f.role: f for f in dataset.files.all()}
        source.update(rec_file=str(files["rec"].path), idx_file=str(files["idx"].path))
    config = FederatedConfig.from_dict({**overrides, **source, "dataset_name": dataset.name})
    config.validate()
    return config


def start_federated(owner, dataset: Dataset, overrides: dict, *, name: str = "", mode: str = "simulation"):
    if dataset.status != DatasetStatus.READY:
        raise Conflict(f"dataset {dataset.name!r} is {dataset.status}, not ready")
    config = build_config(dataset, overrides, mode)  # fail now, naming the field, not later on a worker
    if mode == "simulation":
        check_sizes(dataset, config)
    params = {"dataset_id": dataset.pk, "name": name or f"{dataset.name} federated model", "config": overrides,
              "mode": mode}
    return job_actions.create_job(owner, "federated", params)


def check_sizes(dataset: Dataset, config) -> None:
    from training.engine.config import ConfigError

    sizes = client_sizes(dataset, config)
    if config.batch_size > min(sizes):
        raise ConfigError("batch_size", f"must be at most {min(sizes)}: with this partition a client has only that"
                                        " many training images")


def client_sizes(dataset: Dataset, config) -> list[int]:
    """Training images per client of ``config``'s partition, from the dataset's per-identity
    counts (the partition depends only on them and the seed; seed 0 when none is given)."""
    import numpy as np

    from federation.engine.partition import partition
    from training.engine.data import held_out_count

    counts = [int(c) for _, c in sorted((dataset.summary.get("per_identity") or {}).items(),
                                        key=lambda item: int(item[0]))]
    if not counts:
        raise UserError(f"dataset {dataset.name!r} has no per-identity counts to plan clients from")
    labels = np.repeat(np.arange(len(counts)), counts)
    sizes = []
    for part in partition(labels, config.num_clients, config.partition, config.alpha, config.seed or 0):
        _, per = np.unique(labels[part], return_counts=True)
        sizes.append(int(sum(int(n) - held_out_count(int(n), config.holdout_fraction) for n in per)))
    return sizes
