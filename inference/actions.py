"""Every write to galleries and search audits. Each runs in a transaction; side effects
(queueing the enrollment, removing files) happen on commit."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from jobs import actions as job_actions
from jobs.models import Job, JobStatus
from privface_core.errors import Conflict

from . import warmup
from .models import Gallery, GallerySource, GalleryStatus, SearchAudit

PHOTOS_MANIFEST = "photos.json"


def _locked(gallery_id: int) -> Gallery:
    return Gallery.objects.select_for_update().get(pk=gallery_id)


def _save(gallery: Gallery, *fields: str) -> None:
    """Every change bumps the version (the row is locked, so += is safe)."""
    gallery.version += 1
    gallery.save(update_fields=[*fields, "version", "updated_at"])


def _start_job(gallery: Gallery, params: dict):
    job = job_actions.create_job(gallery.owner, "gallery_enroll", {"gallery_id": gallery.pk, **params})
    gallery.status = GalleryStatus.ENROLLING
    gallery.job = job
    gallery.error = ""
    return job


def create_gallery(owner, *, name: str, source: str, mode: str, embedder: dict, dataset=None, model=None,
                   fpir_target: float = 0.01, faces: str = "dlib"):
    """Create a gallery; from a dataset the enrollment job starts at once. ``model`` is the
    registry model it embeds with (None: the reference), ``embedder`` its name, dim and
    file digest. Returns (gallery, job or None)."""
    calibration = {"threshold": None, "method": "default", "fpir_target": fpir_target}
    try:
        with transaction.atomic():
            gallery = Gallery.objects.create(owner=owner, name=name, source=source, mode=mode, dataset=dataset,
                                             embedder=embedder["name"], dim=embedder["dim"], model=model,
                                             model_digest=embedder.get("digest", "") if model else "",
                                             fpir_target=fpir_target, calibration=calibration, faces=faces)
            job = None
            if source == GallerySource.DATASET:
                job = _start_job(gallery, {})
                _save(gallery, "status", "job", "error")
    except IntegrityError:
        raise ValidationError({"name": [f"you already have a gallery named {name!r}"]}) from None
    return gallery, job


def add_photos(gallery: Gallery, photos: list[tuple[object, str]], *, aligned: bool = False,
               background: bool = False):
    """Store uploaded (file, label) pairs for an enrollment job and start it. Returns the job.

    The photos wait in ``incoming/<batch>/`` (mode 0600) and are deleted when the job ends.
    ``aligned``: 112x112 photos are aligned crops (no detection); ``background``: photos of
    people not enrolled, which only calibrate the threshold.
    """
    if background and not gallery.searchable:
        raise Conflict(f"gallery {gallery.name!r} has nobody enrolled yet: enroll people before background photos")
    if gallery.source != GallerySource.IMAGES:
        raise Conflict(f"gallery {gallery.name!r} is built from a dataset; upload photos to an images gallery")
    if gallery.status == GalleryStatus.ENROLLING:
        raise Conflict(f"gallery {gallery.name!r} is still enrolling; upload more photos when it is ready")
    batch = secrets.token_hex(8)
    folder = gallery.incoming_dir / batch
    folder.mkdir(parents=True)
    try:
        manifest = []
        for i, (upload, label) in enumerate(photos):
            stored = f"{i:05d}.bin"
            fd = os.open(folder / stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            manifest.append({"file": stored, "name": os.path.basename(upload.name or stored)[:200], "label": label})
        (folder / PHOTOS_MANIFEST).write_text(json.dumps(manifest))
        with transaction.atomic():
            gallery = _locked(gallery.pk)
            if gallery.status == GalleryStatus.ENROLLING:
                raise Conflict(f"gallery {gallery.name!r} is still enrolling; upload more photos when it is ready")
            job = _start_job(gallery, {"batch": batch, "aligned": aligned, "background": background})
            _save(gallery, "status", "job", "error")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return job


def store_enrollment(gallery_id: int, store: str, *, identities: int, templates: int, photos: int,
                     skipped: int, calibration: dict | None = None) -> Gallery:
    """The job wrote a new version folder: switch to it and remove the old one on commit.

    The gallery stays enrolling: ``enrollment_ended`` (the job kind's on_finish hook) is
    the one writer of its end, ready or failed, when the job ends."""
    with transaction.atomic():
        gallery = _locked(gallery_id)
        old = gallery.store
        gallery.store = store
        gallery.identities, gallery.templates = identities, templates
        gallery.photos += photos
        gallery.skipped += skipped
        gallery.calibration = calibration or {}
        _save(gallery, "store", "identities", "templates", "photos", "skipped", "calibration")
        if old and old != store:
            folder = gallery.storage_dir / old
            transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))
    return gallery


def enrollment_ended(job: Job) -> None:
    """The one writer of an enrollment's end, in the transaction that ends its job
    (jobs.kinds on_finish, also for a lost worker or a cancel).

    Succeeded: the gallery is ready with the templates its handler stored. Failed,
    cancelled or lost: a gallery that still has its earlier templates stays ready (and
    says what went wrong), one without any is failed. The uploaded photos of the batch
    are removed on commit either way.
    """
    batch = job.params.get("batch", "")
    for gallery in Gallery.objects.select_for_update().filter(job_id=job.pk):
        if batch:
            folder = gallery.incoming_dir / batch
            transaction.on_commit(lambda folder=folder: shutil.rmtree(folder, ignore_errors=True))
        if gallery.status != GalleryStatus.ENROLLING:
            continue
        message = job.error or f"enrollment {job.status}"
        if job.status == JobStatus.SUCCEEDED:
            gallery.status, gallery.error = GalleryStatus.READY, ""
        elif gallery.store:
            gallery.status = GalleryStatus.READY
            gallery.error = f"the last enrollment did not finish ({message}); the gallery keeps its earlier templates"
        else:
            gallery.status = GalleryStatus.FAILED
            gallery.error = message
        _save(gallery, "status", "error")
        if gallery.status == GalleryStatus.READY:  # its first search should not pay the encoding
            transaction.on_commit(lambda pk=gallery.pk: warmup.warm_ready(pk))


def with_override(calibration: dict, override: float | None, rates: dict | None) -> dict:
    """The calibration as stored, with the owner's threshold and its estimated rates (if any)."""
    calibration = {k: v for k, v in calibration.items() if k != "override"}
    if override is not None and rates is not None:
        calibration["override"] = {"threshold": override, **{k: rates.get(k) for k in
                                                             ("fpir", "fpir_upper", "fnir", "stranger_fpir")}}
    return calibration


def set_threshold(gallery: Gallery, *, threshold: float | None, fpir_target: float | None,
                  recalibrate: Callable[[float, float | None], tuple[dict, dict | None]] | None = None) -> Gallery:
    """The owner's threshold (None: back to the calibrated one) and/or a new FPIR target.

    ``recalibrate(fpir_target, threshold)`` returns (calibration dict, rates at the owner's
    threshold or None) from the gallery's stored score samples."""
    with transaction.atomic():
        gallery = _locked(gallery.pk)
        if gallery.status == GalleryStatus.ENROLLING:
            raise Conflict(f"gallery {gallery.name!r} is enrolling; set its threshold when it is ready")
        if fpir_target is not None:
            gallery.fpir_target = fpir_target
        gallery.threshold_override = threshold
        calibration, rates = (recalibrate(gallery.fpir_target, threshold) if recalibrate else
                              (gallery.calibration, None))
        gallery.calibration = with_override(calibration, threshold, rates)
        _save(gallery, "fpir_target", "threshold_override", "calibration")
    return gallery


def delete_galleries_of_model(model) -> list[str]:
    """Inside the caller's transaction: delete every gallery that embeds with ``model``."""
    names = []
    for gallery in Gallery.objects.select_for_update().filter(model=model):
        names.append(gallery.name)
        delete_gallery(gallery)
    return names


def delete_gallery(gallery: Gallery) -> None:
    storage: Path = gallery.storage_dir
    with transaction.atomic():
        if gallery.job_id:
            job_actions.request_cancel(gallery.job_id)
        gallery.delete()
        transaction.on_commit(lambda: shutil.rmtree(storage, ignore_errors=True))


def record_search(user, gallery: Gallery, *, mode: str, version: int, result_count: int | None,
                  matched: bool | None, timings: dict) -> SearchAudit:
    with transaction.atomic():
        return SearchAudit.objects.create(user=user, gallery=gallery, gallery_name=gallery.name,
                                          gallery_version=version, mode=mode, result_count=result_count,
                                          matched=matched, timings=timings)
