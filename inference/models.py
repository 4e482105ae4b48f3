"""Galleries of face templates (encrypted at rest on disk) and the audit trail of searches."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models

from accounts.ownership import OwnedQuerySet


class GalleryStatus(models.TextChoices):
    EMPTY = "empty"  # an images gallery before its first photos
    ENROLLING = "enrolling"
    READY = "ready"
    FAILED = "failed"


class GallerySource(models.TextChoices):
    DATASET = "dataset"
    IMAGES = "images"


class GalleryMode(models.TextChoices):
    MEAN = "mean"  # one template per identity: mean of its unit embeddings, renormalised
    ALL = "all"  # one template per photo


class FacePipeline(models.TextChoices):
    DLIB = "dlib"  # HOG + 5 points (engine/faces.py): the reference embedder needs dlib's chip
    PORTABLE = "portable"  # ONNX detector + 68 landmarks (engine/portable_faces.py), as in the browser


class Gallery(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="galleries")
    name = models.CharField(max_length=100)
    embedder = models.CharField(max_length=100)
    dim = models.PositiveIntegerField()
    # The trained model of the registry it embeds with (null: the reference dlib embedder)
    # and the sha256 of its file at creation: a search never mixes embedders.
    model = models.ForeignKey("training.TrainedModel", null=True, blank=True, on_delete=models.RESTRICT,
                              related_name="galleries")
    model_digest = models.CharField(max_length=64, blank=True, default="")
    # How its photos (and every probe) are detected and aligned: a probe must be cropped as the
    # gallery was. Portable galleries can be searched privately from the browser.
    faces = models.CharField(max_length=10, choices=FacePipeline.choices, default=FacePipeline.DLIB)
    # Open-set threshold: calibrated at each enrollment for fpir_target; the owner may override it.
    fpir_target = models.FloatField(default=0.01)
    threshold_override = models.FloatField(null=True, blank=True)
    calibration = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=8, choices=GalleryMode.choices, default=GalleryMode.MEAN)
    status = models.CharField(max_length=12, choices=GalleryStatus.choices, default=GalleryStatus.EMPTY)
    source = models.CharField(max_length=10, choices=GallerySource.choices)
    dataset = models.ForeignKey("datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="galleries")
    identities = models.PositiveIntegerField(default=0)
    templates = models.PositiveIntegerField(default=0)
    photos = models.PositiveIntegerField(default=0, help_text="photos enrolled")
    skipped = models.PositiveIntegerField(default=0, help_text="photos left out (no face, unreadable)")
    error = models.TextField(blank=True, default="")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Bumped on every change; search workers cache encoded shards per (id, version, store).
    version = models.PositiveIntegerField(default=1)
    # The folder under storage_dir holding the current templates ("" = none yet).
    store = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="gallery_unique_name_per_owner")]
        verbose_name_plural = "galleries"

    def __str__(self) -> str:
        return f"Gallery {self.pk} {self.name!r} ({self.status})"

    @property
    def storage_dir(self) -> Path:
        return Path(settings.DATA_ROOT) / "galleries" / str(self.pk)

    @property
    def incoming_dir(self) -> Path:
        """Uploaded photos wait here for their enrollment job, then are deleted."""
        return self.storage_dir / "incoming"

    @property
    def searchable(self) -> bool:
        return bool(self.store) and self.templates > 0

    @property
    def threshold(self) -> float | None:
        """What a search uses unless the request names one: the owner's, the calibrated, or None
        (then the embedder's default)."""
        if self.threshold_override is not None:
            return self.threshold_override
        return (self.calibration or {}).get("threshold")


class SearchMode(models.TextChoices):
    WEB = "web"  # the web tier held the key (browser flow)
    ENCRYPTED = "encrypted"  # a remote client held the key; the server saw no result


class SearchAudit(models.Model):
    """One search: who, which gallery, when, how many results. Never the image, the
    embedding or the scores."""

    Mode = SearchMode

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    gallery = models.ForeignKey(Gallery, null=True, on_delete=models.SET_NULL, related_name="audits")
    gallery_name = models.CharField(max_length=100)
    gallery_version = models.PositiveIntegerField()
    time = models.DateTimeField(auto_now_add=True)
    mode = models.CharField(max_length=10, choices=SearchMode.choices)
    result_count = models.PositiveSmallIntegerField(null=True, blank=True, help_text="null: not known to the server")
    matched = models.BooleanField(null=True, blank=True, help_text="null: not known to the server")
    timings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["gallery", "-time"])]
