"""Trained models (the registry) and the privacy ledger of each dataset."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Sum

from accounts.ownership import OwnedQuerySet


class TrainedModel(models.Model):
    """An exported embedding backbone (no classification head) and its model card."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trained_models")
    name = models.CharField(max_length=200)
    dataset = models.ForeignKey("datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    card = models.JSONField(default=dict)
    private = models.BooleanField(default=False, help_text="trained with DP-SGD")
    epsilon = models.FloatField(null=True, blank=True)
    delta = models.FloatField(null=True, blank=True)
    accountant = models.CharField(max_length=8, blank=True, default="")
    verification_accuracy = models.FloatField(null=True, blank=True)
    mia_auc = models.FloatField(null=True, blank=True)
    # The backbone as ONNX, for the browser's embedder: what a client checks the download against.
    onnx_sha256 = models.CharField(max_length=64, blank=True, default="",
                                   help_text="sha256 of backbone.onnx; empty when the model has no ONNX export")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Model {self.pk} {self.name!r}"

    @property
    def export_dir(self) -> Path:
        return Path(settings.DATA_ROOT) / "models" / str(self.pk)

    @property
    def onnx_path(self) -> Path:
        return self.export_dir / "backbone.onnx"


class PrivacySpend(models.Model):
    """One DP training run's (epsilon, delta) charged to the dataset it read."""

    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="privacy_spends")
    job = models.ForeignKey("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="+")
    model = models.ForeignKey(TrainedModel, null=True, on_delete=models.SET_NULL, related_name="+")
    epsilon = models.FloatField()
    delta = models.FloatField()
    accountant = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


def ledger_totals(dataset) -> dict:
    """Sequential composition: the epsilons and deltas of runs on the same data add up
    (a valid, if loose, bound on what all of them together reveal)."""
    totals = dataset.privacy_spends.aggregate(epsilon=Sum("epsilon"), delta=Sum("delta"))
    return {"epsilon": totals["epsilon"] or 0.0, "delta": totals["delta"] or 0.0}
