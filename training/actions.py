"""Every write of the training app: starting runs, registering models, the ledger."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from django.db import transaction

from datasets.models import Dataset, DatasetStatus
from jobs import actions as job_actions
from privface_core.errors import Conflict, UserError

from .models import PrivacySpend, TrainedModel

logger = logging.getLogger(__name__)


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


def register_export(job, dataset: Dataset | None, name: str, card: dict, export_dir: Path) -> TrainedModel:
    """Move a run's ``export/`` into the registry and record the model, as one step: the files
    move inside the transaction, so a failed move leaves no row, and a failed commit moves
    them back. Centralized and federated runs both register through here.

    First ``backbone.onnx`` is written into the folder (the browser's embedder; the card's
    ``onnx`` and the row's ``onnx_sha256`` name it)."""
    card = dict(card)
    onnx_sha256 = _export_onnx(Path(export_dir), card)
    moved: Path | None = None
    try:
        with transaction.atomic():
            model = register_model(job, dataset, name, card)
            if onnx_sha256:
                model.onnx_sha256 = onnx_sha256
                model.save(update_fields=["onnx_sha256"])
            target = model.export_dir
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(export_dir, target)
            moved = target
        return model
    except BaseException:
        if moved is not None and moved.exists() and not Path(export_dir).exists():
            os.replace(moved, export_dir)
        raise


def _export_onnx(export_dir: Path, card: dict) -> str:
    """Write ``backbone.onnx`` beside the exported backbone; its sha256, or "" when it cannot
    be made. A failure keeps the model all the same (its privacy is spent; the server-side
    embedder needs only the Keras file) and the card's ``onnx.error`` says why. The entry
    goes into ``model_card.json`` too: the embedder runs the ONNX file only when that card
    vouches for it and for the Keras file beside it."""
    import json

    from training.engine.export import BACKBONE_FILE, CARD_FILE
    from training.engine.onnx_export import export_onnx

    try:
        exported = export_onnx(export_dir / BACKBONE_FILE)
    except Exception as exc:  # noqa: BLE001 - any failure here must not lose a trained model
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        logger.warning("no ONNX export for %s: %s", export_dir, detail)
        card["onnx"] = {"error": detail}
        return ""
    card["onnx"] = exported.to_card()
    card_file = export_dir / CARD_FILE
    try:
        on_disk = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        on_disk = None
    if isinstance(on_disk, dict):
        on_disk["onnx"] = card["onnx"]
        tmp = card_file.with_name(f".{CARD_FILE}.tmp")
        tmp.write_text(json.dumps(on_disk, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, card_file)
    return exported.sha256


def delete_model(model: TrainedModel, *, delete_galleries: bool = False) -> list[str]:
    """Delete a model and its files. Galleries that embed with it make this a 409 naming
    them, unless ``delete_galleries``: then they go too. Returns the galleries deleted."""
    from inference import actions as gallery_actions

    folder = model.export_dir
    with transaction.atomic():
        model = TrainedModel.objects.select_for_update().get(pk=model.pk)
        names = list(model.galleries.order_by("name").values_list("name", flat=True))
        if names and not delete_galleries:
            listed = ", ".join(repr(n) for n in names[:10])
            if len(names) > 10:
                listed += f" and {len(names) - 10} more"
            raise Conflict(f"model {model.name!r} is used by {len(names)} "
                           f"galler{'y' if len(names) == 1 else 'ies'}: {listed}; delete them first, or "
                           "delete with ?delete_galleries=1 to delete them with the model")
        deleted = gallery_actions.delete_galleries_of_model(model)
        model.delete()  # the ledger keeps the spend: the privacy was spent all the same
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
    return deleted
