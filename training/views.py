"""Training API: launch runs, the privacy calculator, the model registry, dataset ledgers."""

from __future__ import annotations

import math
import tempfile
import zipfile

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from datasets.models import Dataset
from jobs.serializers import JobSerializer

from . import actions
from .models import TrainedModel, ledger_totals
from .serializers import (
    PrivacyQuerySerializer,
    PrivacySpendSerializer,
    TrainedModelDetailSerializer,
    TrainedModelSerializer,
    TrainingRequestSerializer,
)


@extend_schema(request=PrivacyQuerySerializer, responses={200: dict})
@api_view(["POST"])
def privacy_estimate(request: Request) -> Response:
    """Epsilon for DP-SGD parameters, or the noise multiplier for a target epsilon."""
    from training.engine import accounting

    query = PrivacyQuerySerializer(data=request.data, context={"request": request})
    query.is_valid(raise_exception=True)
    q = query.validated_data
    noise = q.get("noise_multiplier")
    if noise is None:
        try:
            noise = accounting.calibrate_noise(q["target_epsilon"], q["num_examples"], q["batch_size"], q["epochs"],
                                               q["delta"], q["accountant"])
        except ValueError as err:
            return Response({"target_epsilon": [str(err)]}, status=400)
    epsilon = accounting.compute_epsilon(q["num_examples"], q["batch_size"], q["epochs"], noise, q["delta"],
                                         q["accountant"])
    plan = accounting.TrainingPlan(q["num_examples"], q["batch_size"], q["epochs"])
    return Response({
        "epsilon": epsilon if math.isfinite(epsilon) else None,
        "noise_multiplier": noise, "delta": q["delta"], "accountant": q["accountant"],
        "steps": plan.steps, "sample_rate": plan.sample_rate, "num_examples": q["num_examples"],
    })


@extend_schema(request=TrainingRequestSerializer, responses={202: JobSerializer})
@api_view(["POST"])
def start_training(request: Request) -> Response:
    """Validate the parameters (a bad one is a 400 naming it) and queue the run on `gpu`."""
    data = TrainingRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=data.validated_data["dataset"])
    job = actions.start_training(request.user, dataset, data.validated_data["config"],
                                 name=data.validated_data.get("name") or "")
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(responses={200: dict})
@api_view(["GET"])
def dataset_ledger(request: Request, dataset_id: int) -> Response:
    dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=dataset_id)
    entries = PrivacySpendSerializer(dataset.privacy_spends.all(), many=True).data
    return Response({"total": ledger_totals(dataset), "entries": entries})


class TrainedModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    def get_queryset(self):
        return TrainedModel.objects.visible_to(self.request.user)

    def get_serializer_class(self):
        return TrainedModelDetailSerializer if self.action == "retrieve" else TrainedModelSerializer

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_model(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={(200, "application/zip"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None):
        """The exported backbone and model card as a zip."""
        model = self.get_object()
        if not model.export_dir.is_dir():
            raise Http404
        # Spools to disk past 16 MiB: a large backbone does not sit in the web process's memory.
        buffer = tempfile.SpooledTemporaryFile(max_size=16 << 20)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(model.export_dir.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(model.export_dir))
        buffer.seek(0)
        return FileResponse(buffer, as_attachment=True, filename=f"privface-model-{model.pk}.zip")
