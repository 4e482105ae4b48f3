"""Training API: launch runs, the privacy calculator, the model registry, dataset ledgers."""

from __future__ import annotations

import tempfile
import zipfile

from django.conf import settings
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action, api_view
from rest_framework.request import Request
from rest_framework.response import Response

from datasets.models import Dataset, DatasetStatus
from jobs.serializers import JobSerializer
from privface_site import compute

from . import actions
from .models import TrainedModel, ledger_totals
from .serializers import (
    PrivacyQuerySerializer,
    PrivacySpendSerializer,
    TrainedModelDetailSerializer,
    TrainedModelSerializer,
    TrainingRequestSerializer,
    check_against_dataset,
    check_user_config,
)

# By name: the compute process imports the accountant (dp-accounting, SciPy), this one never.
ESTIMATE = "training.engine.accounting:estimate"


@extend_schema(request=PrivacyQuerySerializer, responses={200: dict})
@api_view(["POST"])
def privacy_estimate(request: Request) -> Response:
    """Epsilon for DP-SGD parameters, or the noise multiplier for a target epsilon.

    The accounting runs in a compute process (never in this one, where it would stall
    every other request) and is stopped past PRIVACY_TIMEOUT_SECONDS."""
    from training.engine.dp_params import UnreliableEpsilon

    query = PrivacyQuerySerializer(data=request.data, context={"request": request})
    query.is_valid(raise_exception=True)
    q = query.validated_data
    timeout = settings.PRIVACY_TIMEOUT_SECONDS
    try:
        # PLD takes seconds at many steps; RDP milliseconds: separate lanes, so RDP never waits behind PLD.
        answer = compute.remembered(ESTIMATE, q["num_examples"], q["batch_size"], q["epochs"], q["delta"],
                                    q["accountant"], q.get("noise_multiplier"), q.get("target_epsilon"),
                                    timeout=timeout, lane="heavy" if q["accountant"] == "pld" else "light")
    except compute.ComputeTimeout:
        return Response({"detail": f"this estimate takes more than {timeout} s to compute; use fewer steps"
                                   " (fewer epochs or examples, a larger batch) or the rdp accountant"}, status=400)
    except UnreliableEpsilon as err:
        return Response({"detail": str(err)}, status=400)
    except ValueError as err:
        field = "target_epsilon" if q.get("noise_multiplier") is None else "noise_multiplier"
        return Response({field: [str(err)]}, status=400)
    return Response(answer)


class BoundSerializer(serializers.Serializer):
    """One numeric field's range (``max`` null: no upper limit here)."""

    min = serializers.FloatField()
    max = serializers.FloatField(allow_null=True)
    integer = serializers.BooleanField()
    min_exclusive = serializers.BooleanField()
    max_exclusive = serializers.BooleanField()
    at_most = serializers.CharField(allow_null=True, help_text="a field whose value is also an upper limit")


class LimitsSerializer(serializers.Serializer):
    """The ranges a run's config is validated against, by field name."""

    bounds = serializers.DictField(child=BoundSerializer())


def limits_response(table: dict) -> Response:
    """``{"bounds": {field: {...}}}`` of an engine's FIELD_BOUNDS (the forms check against it)."""
    return Response({"bounds": {name: bound.to_dict() for name, bound in table.items()}})


@extend_schema(responses={200: LimitsSerializer})
@api_view(["GET"])
def training_limits(request: Request) -> Response:
    """The numeric fields' ranges that `POST /api/training/` enforces, for the training form."""
    from training.engine.config import FIELD_BOUNDS

    return limits_response(FIELD_BOUNDS)


@extend_schema(request=TrainingRequestSerializer, responses={202: JobSerializer})
@api_view(["POST"])
def start_training(request: Request) -> Response:
    """Validate the parameters (a bad one is a 400 naming it) and queue the run on `gpu`."""
    data = TrainingRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    overrides = data.validated_data["config"]
    check_user_config(overrides)
    dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=data.validated_data["dataset"])
    if dataset.status == DatasetStatus.READY:
        check_against_dataset(actions.build_config(dataset, overrides), dataset)
    job = actions.start_training(request.user, dataset, overrides, name=data.validated_data.get("name") or "")
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

    @extend_schema(parameters=[OpenApiParameter("delete_galleries", bool, description=(
        "also delete the galleries that use this model (without it, such a model is a 409 naming them)"))])
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        confirm = request.query_params.get("delete_galleries", "").lower() in ("1", "true", "yes")
        actions.delete_model(self.get_object(), delete_galleries=confirm)
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

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def onnx(self, request: Request, pk: str | None = None):
        """The backbone as ONNX (uint8 RGB crop in, raw embedding out), for the browser's
        embedder; ``X-Content-SHA256`` and the ETag are the digest the model lists."""
        model = self.get_object()
        if not model.onnx_sha256 or not model.onnx_path.is_file():
            raise Http404
        response = FileResponse(model.onnx_path.open("rb"), content_type="application/octet-stream",
                                as_attachment=True, filename=f"privface-model-{model.pk}.onnx")
        response["X-Content-SHA256"] = model.onnx_sha256
        response["ETag"] = f'"{model.onnx_sha256}"'
        return response
