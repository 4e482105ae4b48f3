"""The `gallery_enroll` job: photos (a ready dataset's extracted folder, or an uploaded
batch) -> templates, written encrypted to a new version folder of the gallery."""

from __future__ import annotations

import json
import secrets
import shutil
import time

from rest_framework import serializers

from inference.engine.enroll import Enrollment, Skip, check_label, folder_identities, labelled_identities
from jobs.models import Job
from privface_site.errors import UserError

from . import actions
from .models import Gallery
from .storage import gallery_dir, store_for

MAX_SKIP_EVENTS = 50  # log events for skipped photos; the rest are only counted


class EnrollParams(serializers.Serializer):
    gallery_id = serializers.IntegerField(min_value=1)
    batch = serializers.RegexField(r"^[0-9a-f]{16}$", required=False)


def reference_metadata() -> dict:
    """Name and dim of the embedder new galleries use (the reference; loads no model)."""
    from inference.engine.embedders import reference_embedder

    return reference_embedder().metadata


def embedder_for(gallery: Gallery):
    """The gallery's embedder; only the reference embedder exists on the server today."""
    from inference.engine.embedders import reference_embedder

    embedder = reference_embedder()
    if gallery.embedder != embedder.name:
        raise UserError(f"gallery {gallery.name!r} uses embedder {gallery.embedder!r}, which this server lacks")
    return embedder


class _Progress:
    """Photo count -> job progress, at most every 2 % or second."""

    def __init__(self, ctx, total: int):
        self.ctx, self.total = ctx, max(1, total)
        self.last_fraction, self.last_time = -1.0, 0.0

    def __call__(self, done: int) -> None:
        fraction = min(1.0, done / self.total)
        now = time.monotonic()
        if fraction - self.last_fraction >= 0.02 or now - self.last_time >= 1.0 or done == self.total:
            self.last_fraction, self.last_time = fraction, now
            self.ctx.progress(0.95 * fraction, f"Enrolling photo {done} of {self.total}", photos_done=done,
                              photos_total=self.total)


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
        gallery = Gallery.objects.select_related("dataset").get(pk=ctx.params["gallery_id"])
    except Gallery.DoesNotExist:
        raise UserError("the gallery was deleted") from None
    embedder = embedder_for(gallery)
    base = store_for(gallery.pk, gallery.store).read() if gallery.store else None
    total, identities = _sources(gallery, batch)
    skips: list[Skip] = []

    def on_skip(skip: Skip) -> None:
        skips.append(skip)
        if len(skips) <= MAX_SKIP_EVENTS:
            ctx.log(f"skipped {skip.name}: {skip.reason}", "warning")

    ctx.progress(0.0, f"Enrolling {total} photos")
    enrollment = Enrollment(embedder, gallery.mode, base, on_photo=_Progress(ctx, total), on_skip=on_skip)
    enrollment.add_all(identities)
    data, thumbs = enrollment.result()

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
        actions.finish_enrollment(gallery.pk, store_name, identities=len(data.identities), templates=len(data),
                                  photos=enrollment.enrolled, skipped=len(skips))
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
    }


def on_job_finished(job_id: int, status: str, error: str) -> None:
    batch = Job.objects.filter(pk=job_id).values_list("params", flat=True).first() or {}
    actions.enrollment_ended(job_id, status, error, batch=batch.get("batch", ""))
