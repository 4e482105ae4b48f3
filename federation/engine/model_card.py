"""The model card of a federated run: the centralized card's sections, plus the federation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.engine.model_card import CAVEATS

from .config import FederatedConfig

HEAD_POLICY = {
    "private": "each client kept its classification head (its identities' class centres); only the backbone"
               " was sent and averaged",
    "shared": "one head over all identities; each row averaged only over the clients holding that identity",
}


def build(config: FederatedConfig, facts: dict[str, Any]) -> dict[str, Any]:
    parameters = config.to_dict()
    for private in ("seed", "extra", "output_dir", "resume"):
        parameters.pop(private, None)  # the seed says which examples each step sampled
    history = facts["history"]
    last = history[-1] if history else {}
    card: dict[str, Any] = {
        "model": {
            "backbone": facts["backbone"],
            "file": "backbone.keras",
            "embedding_size": config.embedding_size,
            "input": f"{config.image_size}x{config.image_size} RGB, (x - 127.5) / 128",
            "parameters": facts["backbone_parameters"],
            "training_head": config.head_type,
            "normalization": "GroupNorm (federated models always use it)",
        },
        "data": {
            "name": config.dataset_name or (Path(config.data_dir or config.rec_file or "").stem or "SuperNode data"),
            "images": facts.get("images"),
            "identities": facts.get("identities"),
            "train_images": sum(c.get("examples", 0) for c in facts["clients"]) or None,
            "location": "simulated clients on the server" if not config.superlink
                        else "each SuperNode's own disk (never uploaded)",
        },
        "parameters": parameters,
        "federation": {
            "mode": "deployment" if config.superlink else "simulation",
            "clients": config.num_clients,
            "clients_per_round": config.sampled,
            "min_clients": config.min_replies,
            "partition": config.partition if not config.superlink else "each SuperNode's own data",
            "alpha": config.alpha if config.partition == "dirichlet" else None,
            "rounds_completed": facts["rounds"],
            "rounds_planned": config.num_rounds,
            "local_epochs": config.local_epochs,
            "head_policy": config.head,
            "head_policy_explained": HEAD_POLICY[config.head],
            "aggregation": "FedAvg, uniform weights (client-level DP)" if config.level == "client"
                           else "FedAvg, weighted by training examples",
            "secure_aggregation": config.secagg,
            "per_client": facts["clients"],
        },
        "training": {
            "rounds_completed": facts["rounds"],
            "stopped": facts["stopped"],
            "final_loss": last.get("loss"),
            "train_accuracy": last.get("accuracy"),
            "holdout_accuracy": facts.get("final_evaluation", {}).get("held_accuracy"),
            "devices": facts.get("devices", "CPU"),
        },
        "dp": facts["dp"],
        "verification": None,
        "membership_inference": facts.get("membership_inference"),
        "caveats": CAVEATS + ["Per-client losses, accuracies and audit AUCs were computed by the clients and"
                              " sent to the server without noise: they are not covered by the DP guarantee."],
        "warnings": facts.get("warnings", []),
    }
    if last.get("verification"):
        card["verification"] = {"bin": Path(config.eval_bin or "").name, **last["verification"]}
    return card
