"""The `gallery_enroll` job: photos (a ready dataset's extracted folder, or an uploaded
batch) -> templates, written encrypted to a new version folder of the gallery."""

from __future__ import annotations

import functools
import json
import secrets
import shutil
from pathlib import Path

from rest_framework import serializers

from inference.engine.calibration import rates
from inference.engine.enroll import Enrollment, Skip, check_label, folder_identities, labelled_identities
from privface_core.errors import UserError

from . import actions
from .models import Gallery, GallerySource
from .storage import gallery_dir, store_for

BACKBONE_FILE = "backbone.keras"  # training.engine.export.BACKBONE_FILE (that module imports Keras)

MAX_SKIP_EVENTS = 50  # log events for skipped photos; the rest are only counted


class EnrollParams(serializers.Serializer):
    gallery_id = serializers.IntegerField(min_value=1)
    batch = serializers.RegexField(r"^[0-9a-f]{16}$", required=False)
    aligned = serializers.BooleanField(required=False, default=False)
    background = serializers.BooleanField(required=False, default=False)


def reference_metadata() -> dict:
    """Name and dim of the reference embedder new galleries use (dlib's ResNet under its
    Euclidean rule; loads no model)."""
    from inference.engine.embedders import reference_l2_embedder

    return reference_l2_embedder().metadata


def model_file(model) -> Path:
    """Where a registry model's exported backbone lies."""
    return model.export_dir / BACKBONE_FILE


def trained_metadata(model) -> dict:
    """Name, dim and digest of a registry model's backbone (hashes the file; imports no TensorFlow).

    Raises UserError when the model has no exported backbone."""
    from inference.engine.embedders import file_digest

    path = model_file(model)
    if not path.is_file():
        raise UserError(f"model {model.pk} has no exported backbone")
    size = ((model.card or {}).get("model") or {}).get("embedding_size")
    if not size:
        raise UserError(f"model {model.pk}'s card does not give its embedding size")
    digest = file_digest(path)
    return {"name": f"keras:{digest[:16]}", "dim": int(size), "digest": digest}


def check_model(gallery: Gallery) -> None:
    """Refuse (409) a gallery whose trained model was deleted or whose file changed since it was made."""
    from inference.engine.embedders import ModelChanged

    if not gallery.model_digest:
        return
    if gallery.model_id is None:
        raise ModelChanged(f"gallery {gallery.name!r} was enrolled with a trained model that was deleted; "
                           "make a new gallery")
    path = model_file(gallery.model)
    what = f"gallery {gallery.name!r} was enrolled with model {gallery.model.name!r}"
    try:
        digest = _digest_of(str(path), *_stat(path))
    except OSError:
        raise ModelChanged(f"{what}, whose file is gone; make a new gallery") from None
    if digest != gallery.model_digest:
        raise ModelChanged(f"{what}, whose file has changed since (sha256 {digest[:12]}, the gallery's "
                           f"{gallery.model_digest[:12]}); its templates would not compare: make a new gallery")


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a model file, re-hashed only when its size or mtime changes."""
    from inference.engine.embedders import file_digest

    return file_digest(path)


def embedder_for(gallery: Gallery):
    """The gallery's embedder: the reference, or its trained model, loaded once per worker
    process (cached by file path and digest). Workers only: a trained model imports TensorFlow."""
    from inference.engine.embedders import cached_keras_embedder, reference_by_name

    if gallery.model_digest:
        check_model(gallery)
        embedder = cached_keras_embedder(model_file(gallery.model), gallery.model_digest)
    else:
        embedder = reference_by_name(gallery.embedder)
    if embedder is None or gallery.embedder != embedder.name:
        raise UserError(f"gallery {gallery.name!r} uses embedder {gallery.embedder!r}, which this server lacks")
    return embedder


def _photo_progress(ctx, total: int):
    """Photo count -> job progress, at most every 2 % or second."""
    total = max(1, total)

    def report(done: int) -> None:
        ctx.progress_every(0.95 * min(1.0, done / total), f"Enrolling photo {done} of {total}", min_change=0.95 * 0.02,
                           seconds=1.0, last=done == total, photos_done=done, photos_total=total)
    return report


def _sources(gallery: Gallery, batch: str | None):
    if batch:
        folder = gallery.incoming_dir / batch
        manifest = json.loads((folder / actions.PHOTOS_MANIFEST).read_text())
        rows = [(check_label(p["label"], p["name"]), p["name"], folder / p["file"]) for p in manifest]
        return len(rows), labelled_identities(rows)
    dataset = gallery.dataset
    if dataset is None:
        raise UserError("the gallery's dataset was deleted")
    if dataset.status != "ready" or not dataset.extract_images:
        raise UserError(f"dataset {dataset.name!r} has no extracted images to enroll")
    try:
        return folder_identities(dataset.extracted_dir)
    except UserError as exc:  # users see their dataset's name, not server paths
        raise UserError(str(exc).replace(str(dataset.extracted_dir), f"dataset {dataset.name!r}")) from None


def run(ctx) -> dict:
    batch = ctx.params.get("batch")
    try:
        gallery = Gallery.objects.select_related("dataset", "model").get(pk=ctx.params["gallery_id"])
    except Gallery.DoesNotExist:
        raise UserError("the gallery was deleted") from None
    embedder = embedder_for(gallery)
    old_store = store_for(gallery.pk, gallery.store) if gallery.store else None
    base = old_store.read() if old_store else None
    base_calibration = old_store.read_calibration() if old_store else None
    total, identities = _sources(gallery, batch)
    # Extracted datasets are insightface's aligned 112x112 crops; uploads only when the user says so.
    aligned = gallery.source == GallerySource.DATASET or bool(ctx.params.get("aligned"))
    skips: list[Skip] = []

    def on_skip(skip: Skip) -> None:
        skips.append(skip)
        if len(skips) <= MAX_SKIP_EVENTS:
            ctx.log(f"skipped {skip.name}: {skip.reason}", "warning")

    ctx.progress(0.0, f"Enrolling {total} photos")
    enrollment = Enrollment(embedder, gallery.mode, base, on_photo=_photo_progress(ctx, total), on_skip=on_skip,
                            aligned=aligned, base_calibration=base_calibration, faces=gallery.faces)
    if ctx.params.get("background"):
        if base is None:
            raise UserError("enroll people first: background photos calibrate a gallery's threshold")
        added = enrollment.add_background(photo for _, photos in identities for photo in photos)
        ctx.log(f"{added} background photos (people not enrolled) added to the calibration")
        data, thumbs = base, {}
    else:
        enrollment.add_all(identities)
        data, thumbs = enrollment.result()
    calibration, scores = enrollment.calibrate(data, gallery.fpir_target, embedder.default_threshold)
    calibrated = calibration.to_dict()
    if gallery.threshold_override is not None:
        calibrated = actions.with_override(calibrated, gallery.threshold_override,
                                           rates(scores, gallery.threshold_override))

    store_name = secrets.token_hex(8)
    store = store_for(gallery.pk, store_name)
    try:
        ctx.progress(0.96, "Writing encrypted templates")
        if base is not None:  # identities kept from the earlier version keep their thumbnails
            old = store_for(gallery.pk, gallery.store)
            for label in base.identities:
                if label not in thumbs and (jpeg := old.read_thumbnail(label)) is not None:
                    thumbs[label] = jpeg
        store.write(data, thumbs)
        samples, sample_labels, background = enrollment.calibration_samples()
        store.write_calibration(samples, sample_labels, background, scores.to_arrays())
        actions.store_enrollment(gallery.pk, store_name, identities=len(data.identities), templates=len(data),
                                 photos=enrollment.enrolled, skipped=len(skips), calibration=calibrated)
    except Gallery.DoesNotExist:
        shutil.rmtree(gallery_dir(gallery.pk), ignore_errors=True)
        raise UserError("the gallery was deleted during enrollment") from None
    except BaseException:
        shutil.rmtree(store.folder, ignore_errors=True)
        raise
    if skips:
        ctx.log(f"{len(skips)} of {total} photos skipped (no face found or unreadable)", "warning")
    return {
        "gallery_id": gallery.pk,
        "identities": len(data.identities),
        "templates": len(data),
        "enrolled": enrollment.enrolled,
        "skipped": len(skips),
        "skipped_photos": [{"photo": s.name, "reason": s.reason} for s in skips[:MAX_SKIP_EVENTS]],
        "calibration": calibrated,
    }
