"""Federated learning API: start a run, estimate its epsilon, list the SuperLink's nodes."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from datasets.models import Dataset, DatasetStatus
from jobs.serializers import JobSerializer
from privface_core.errors import Conflict
from privface_site import compute
from training.views import LimitsSerializer, limits_response

from . import actions
from .serializers import FederatedPrivacySerializer, FederatedRequestSerializer


@extend_schema(request=FederatedRequestSerializer, responses={202: JobSerializer})
@api_view(["POST"])
def start_federated(request: Request) -> Response:
    """Validate the parameters (a bad one is a 400 naming it) and queue the run on `gpu`."""
    data = FederatedRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=v["dataset"])
    job = actions.start_federated(request.user, dataset, v["config"], name=v.get("name") or "", mode=v["mode"])
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(responses={200: LimitsSerializer})
@api_view(["GET"])
def federated_limits(request: Request) -> Response:
    """The numeric fields' ranges that `POST /api/federated/` enforces, for the federated form."""
    from federation.engine.config import FIELD_BOUNDS

    return limits_response(FIELD_BOUNDS)


@extend_schema(request=FederatedPrivacySerializer, responses={200: dict})
@api_view(["POST"])
def federated_privacy(request: Request) -> Response:
    """Epsilon of a planned federated run on a dataset (or the noise for a target epsilon)."""
    data = FederatedPrivacySerializer(data=request.data)
    data.is_valid(raise_exception=True)
    dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=data.validated_data["dataset"])
    if dataset.status != DatasetStatus.READY:
        raise Conflict(f"dataset {dataset.name!r} is {dataset.status}, not ready")
    config = actions.build_config(dataset, data.validated_data["config"])
    if config.level == "none":
        return Response({"epsilon": None, "noise_multiplier": None, "dp_level": "none"})
    sizes = actions.client_sizes(dataset, config)
    timeout = settings.PRIVACY_TIMEOUT_SECONDS
    try:
        # By name: the compute process imports the accountants, this one never.
        answer = compute.remembered("federation.engine.privacy:estimate", config.level, config.num_clients,
                                    config.sampled, config.num_rounds, config.noise, config.target_epsilon,
                                    config.delta, sizes, config.batch_size, config.local_epochs, config.accountant,
                                    timeout=timeout,
                                    lane="heavy" if config.accountant == "pld" and config.level == "sample"
                                    else "light")
    except compute.ComputeTimeout:
        return Response({"detail": f"this estimate takes more than {timeout} s to compute; use fewer rounds"
                                   " or the rdp accountant"}, status=400)
    except ValueError as err:
        return Response({"target_epsilon" if config.noise is None else "noise_multiplier": [str(err)]}, status=400)
    return Response({**answer, "client_sizes": sizes})


@extend_schema(responses={200: dict})
@api_view(["GET"])
def supernodes(request: Request) -> Response:
    """The SuperNodes connected to the configured SuperLink (deployment mode), cached for 10 s."""
    from django.core.cache import cache

    from federation.engine.deployment import connected_nodes
    from privface_core.errors import UserError

    if not settings.FLOWER_SUPERLINK:
        return Response({"superlink": None, "nodes": []})
    answer = cache.get("federation:supernodes")
    if answer is None:
        try:
            nodes, error = connected_nodes(settings.FLOWER_SUPERLINK, Path(settings.DATA_ROOT) / "federated"), None
        except UserError as err:
            nodes, error = [], str(err)
        answer = {"superlink": settings.FLOWER_SUPERLINK, "nodes": nodes, "error": error}
        cache.set("federation:supernodes", answer, 10)
    return Response(answer)
