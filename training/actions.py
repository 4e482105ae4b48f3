"""Every write of the training app: starting runs, registering models, the ledger."""

from __future__ import annotations

import shutil

from django.db import transaction

from datasets.models import Dataset, DatasetStatus
from jobs import actions as job_actions
from privface_site.errors import Conflict, UserError

from .models import PrivacySpend, TrainedModel


def build_config(dataset: Dataset, overrides: dict):
    """A validated TrainConfig for ``dataset``: the user's fields over the defaults; the data
    paths are the server's, never the client's."""
    from training.engine.config import TrainConfig

    for forbidden in ("dataset_path", "rec_file", "idx_file", "output_dir", "eval_bin", "resume", "extra"):
        if forbidden in overrides:
            raise UserError(f"{forbidden} is set by the server")
    if dataset.extract_images:
        source = {"dataset_path": str(dataset.extracted_dir)}
    else:  # indexed only: train straight from the uploaded .rec through its .idx
        files = {f.role: f for f in dataset.files.all()}
        source = {"rec_file": str(files["rec"].path), "idx_file": str(files["idx"].path)}
    config = TrainConfig.from_dict({**overrides, **source, "dataset_name": dataset.name})
    config.validate()
    return config


def start_training(owner, dataset: Dataset, overrides: dict, *, name: str = ""):
    if dataset.status != DatasetStatus.READY:
        raise Conflict(f"dataset {dataset.name!r} is {dataset.status}, not ready")
    build_config(dataset, overrides)  # fail now, with the field named, not later on a worker
    params = {"dataset_id": dataset.pk, "name": name or f"{dataset.name} model", "config": overrides}
    return job_actions.create_job(owner, "train", params)


@transaction.atomic
def register_model(job, dataset: Dataset | None, name: str, card: dict) -> TrainedModel:
    dp = card.get("dp") or {}
    private = bool(dp.get("enabled"))
    model = TrainedModel.objects.create(
        owner_id=job.owner_id, name=name, dataset=dataset, job=job, card=card, private=private,
        epsilon=dp.get("epsilon") if private else None, delta=dp.get("delta") if private else None,
        accountant=dp.get("accountant", "") if private else "",
        verification_accuracy=(card.get("verification") or {}).get("accuracy"),
        mia_auc=(card.get("membership_inference") or {}).get("auc"),
    )
    if private and dataset is not None and dp.get("epsilon") is not None:
        PrivacySpend.objects.create(dataset=dataset, job=job, model=model, epsilon=dp["epsilon"],
                                    delta=dp["delta"], accountant=dp.get("accountant", "rdp"))
    return model


def delete_model(model: TrainedModel) -> None:
    folder = model.export_dir
    with transaction.atomic():
        model.delete()  # the ledger keeps the spend: the privacy was spent all the same
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
