"""The `dataset_extract` job: validate and extract an uploaded dataset on a `cpu` worker."""

from __future__ import annotations

import os

from rest_framework import serializers

from privface_core.errors import UserError

from . import actions
from .models import Dataset, DatasetStatus


class ExtractParams(serializers.Serializer):
    dataset_id = serializers.IntegerField(min_value=1)


def _bytes_progress(ctx, label: str, share: float):
    """Engine progress (bytes) -> job progress, at most every 1 % or half a second."""
    def report(done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        ctx.progress_every(fraction * share, label, min_change=0.01 * share, seconds=0.5, last=fraction >= 1.0,
                           bytes_done=done, bytes_total=total)
    return report


def _public(message: str, dataset: Dataset) -> str:
    """Engine messages name files by path; users should see their file names only."""
    for upload in dataset.files.all():
        message = message.replace(str(upload.path), upload.filename)
    return message.replace(str(dataset.storage_dir) + os.sep, "")


def index_rec(rec_path, idx_path, progress) -> dict:
    """Train-from-rec mode: read and check every image record through the .idx (framing,
    headers, labels) and count identities, without writing image files."""
    from collections import Counter

    from datasets.engine.stream import TrainingStream

    stream = TrainingStream(rec_path, idx_path)
    total, counts = len(stream), Counter()
    for done, (_, label) in enumerate(stream, 1):
        counts[label] += 1
        if done % 512 == 0 or done == total:
            progress(done, total)
    return {
        "layout": stream.layout.name, "images": total, "identities": len(counts),
        "per_identity": {str(label): counts[label] for label in sorted(counts)},
        "indexed": True, "extracted": False,
    }


def run(ctx) -> dict:
    from datasets.engine.evalbin import extract_bin_into
    from datasets.engine.extract import extract_rec_into
    from datasets.engine.outdir import staging_dir

    dataset = Dataset.objects.get(pk=ctx.params["dataset_id"])
    files = list(dataset.files.all())
    by_role = {f.role: f for f in files}
    bins = [f for f in files if f.role == "bin"]
    actions.set_status(dataset.pk, DatasetStatus.EXTRACTING)
    summary: dict = {"images": 0, "identities": 0, "layout": "", "eval_sets": {}}
    try:
        with staging_dir(str(dataset.extracted_dir)) as staging:
            if "rec" in by_role and not dataset.extract_images:
                rec = by_role["rec"]
                progress = _bytes_progress(ctx, f"Indexing {rec.filename}", 0.95 if bins else 1.0)
                summary.update(index_rec(rec.path, by_role["idx"].path, progress))
            elif "rec" in by_role:
                rec = by_role["rec"]
                progress = _bytes_progress(ctx, f"Extracting {rec.filename}", 0.95 if bins else 1.0)
                summary.update(extract_rec_into(
                    staging, rec.path, idx_path=by_role["idx"].path,
                    lst_path=by_role["lst"].path if "lst" in by_role else None, progress=progress))
            for upload in bins:
                name = os.path.splitext(os.path.basename(upload.path))[0]
                target = os.path.join(staging, "eval", name)
                os.makedirs(target)
                ctx.progress(0.95, f"Extracting {upload.filename}")
                summary["eval_sets"][upload.filename] = extract_bin_into(target, upload.path)
    except UserError as exc:
        raise UserError(_public(str(exc), dataset)) from None  # the dataset fails with it (extraction_ended)
    actions.record_summary(dataset.pk, summary)
    return {"dataset_id": dataset.pk, "images": summary.get("images", 0), "identities": summary.get("identities", 0)}
