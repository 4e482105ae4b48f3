"""The model card written next to the exported backbone: data, parameters, privacy, quality."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.engine.config import TrainConfig

CAVEATS = [
    "Training loss and accuracy, held-out accuracy and the membership-inference AUC are computed"
    " from the private data without noise: they are not covered by the DP guarantee.",
    "The membership-inference AUC measures one simple attack (loss threshold); a low AUC is"
    " evidence, not proof, of privacy. The DP epsilon bounds every attack.",
]


@dataclass
class RunFacts:
    """What a run did, as the card reports it."""

    backbone: str  # the built model's name
    source: dict[str, Any]  # ImageSource.describe()
    images: int
    identities: int
    train_images: int
    holdout_images: int
    embedding_size: int
    backbone_parameters: int
    epochs_completed: int
    steps: int
    stopped: str
    devices: str
    mixed_precision: bool
    history: list[dict[str, Any]]
    epsilon: float | None
    noise_multiplier: float | None
    sample_rate: float


def build(config: TrainConfig, facts: RunFacts, audit: dict[str, Any] | None, warnings: list[str]) -> dict[str, Any]:
    last = facts.history[-1] if facts.history else {}
    parameters = config.to_dict()
    # The DP analysis assumes nobody knows which examples each step sampled: never publish the seed.
    parameters.pop("seed")
    card: dict[str, Any] = {
        "model": {
            "backbone": facts.backbone,
            "file": "backbone.keras",
            "embedding_size": facts.embedding_size,
            "input": f"{config.image_size}x{config.image_size} RGB, (x - 127.5) / 128",
            "parameters": facts.backbone_parameters,
            "training_head": config.head,
        },
        "data": {
            "name": config.dataset_name or _dataset_name(facts.source["path"]),
            **facts.source,
            "images": facts.images,
            "identities": facts.identities,
            "train_images": facts.train_images,
            "holdout_images": facts.holdout_images,
        },
        "parameters": parameters,
        "training": {
            "epochs_completed": facts.epochs_completed,
            "steps": facts.steps,
            "stopped": facts.stopped,
            "final_loss": last.get("loss"),
            "train_accuracy": last.get("train_accuracy"),
            "holdout_accuracy": last.get("holdout_accuracy"),
            "devices": facts.devices,
            "mixed_precision": facts.mixed_precision,
        },
        "dp": _dp(config, facts),
        "verification": None,
        "membership_inference": audit,
        "caveats": CAVEATS,
        "warnings": warnings,
    }
    if "verification" in last:
        card["verification"] = {"bin": Path(config.eval_bin or "").name, **last["verification"]}
    return card


def _dataset_name(path: str) -> str:
    """The folder's name, or the .rec's; insightface's ``train.rec`` is named by its folder."""
    p = Path(path)
    return p.parent.name if p.suffix == ".rec" and p.stem == "train" and p.parent.name else p.stem


def _dp(config: TrainConfig, facts: RunFacts) -> dict[str, Any]:
    if not config.use_dp:
        return {"enabled": False}
    return {
        "enabled": True,
        "epsilon": facts.epsilon,
        "delta": config.delta,
        "accountant": config.accountant,
        "noise_multiplier": facts.noise_multiplier,
        "l2_norm_clip": config.l2_norm_clip,
        "sample_rate": facts.sample_rate,
        "expected_batch_size": config.batch_size,
        "steps": facts.steps,
        "target_epsilon": config.target_epsilon,
        "sampling": "poisson",
        "unit": "one image (example-level DP, not identity-level)",
    }
