"""Datasets users upload (RecordIO + evaluation .bin files) and the files they consist of."""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Sum

from accounts.ownership import OwnedQuerySet

ROLE_BY_SUFFIX = {".rec": "rec", ".idx": "idx", ".lst": "lst", ".bin": "bin"}


class DatasetStatus(models.TextChoices):
    UPLOADING = "uploading"
    VALIDATING = "validating"
    EXTRACTING = "extracting"
    READY = "ready"
    FAILED = "failed"


class Dataset(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=DatasetStatus.choices, default=DatasetStatus.UPLOADING)
    extract_images = models.BooleanField(default=True, help_text="False: validate and index only (train from .rec)")
    layout = models.CharField(max_length=20, blank=True, default="")
    images = models.PositiveIntegerField(default=0)
    identities = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Dataset {self.pk} {self.name!r} ({self.status})"

    @property
    def storage_dir(self) -> Path:
        return Path(settings.DATA_ROOT) / "datasets" / str(self.pk)

    @property
    def uploads_dir(self) -> Path:
        return self.storage_dir / "uploads"

    @property
    def extracted_dir(self) -> Path:
        return self.storage_dir / "extracted"

    def file_of_role(self, role: str) -> DatasetFile | None:
        return self.files.filter(role=role).first()


def bytes_reserved_by(user) -> int:
    """Bytes the user's uploads take or have announced (the quota counts announced sizes)."""
    return DatasetFile.objects.filter(dataset__owner=user).aggregate(total=Sum("size"))["total"] or 0


class DatasetFile(models.Model):
    """One file of a dataset, uploaded in chunks; ``received`` is the resume offset."""

    class Role(models.TextChoices):
        REC = "rec"
        IDX = "idx"
        LST = "lst"
        BIN = "bin"
        PROPERTY = "property"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=10, choices=Role.choices)
    filename = models.CharField(max_length=200)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    received = models.BigIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "filename"], name="dataset_file_unique_name")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.received}/{self.size})"

    @property
    def path(self) -> Path:
        # A folder per file id, and the client's base name reduced to safe characters: no
        # traversal, no collisions, and engine messages still name the user's file.
        return self.dataset.uploads_dir / str(self.pk) / stored_name(self.filename, self.role)

    @property
    def complete(self) -> bool:
        return self.completed_at is not None


def stored_name(filename: str, role: str) -> str:
    """The client's base name reduced to safe characters (``a b.bin`` → ``a_b.bin``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(filename)).lstrip(".") or role


def clash_key(filename: str, role: str) -> str:
    """Two files of a dataset with the same key would land on the same name on disk (an
    evaluation .bin is extracted into a folder named after its stem)."""
    name = stored_name(filename, role).casefold()
    return os.path.splitext(name)[0] if role == "bin" else name

