"""``GET /api/overview/``: the dashboard's home page in one request — the newest jobs,
datasets and models of the user (everyone's for staff) and the privacy spent per dataset."""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

RECENT = 5


@extend_schema(responses={200: dict})
@api_view(["GET"])
def overview(request: Request) -> Response:
    from datasets.models import Dataset, DatasetStatus
    from datasets.serializers import DatasetSerializer
    from jobs.models import Job, JobStatus
    from jobs.serializers import JobSerializer
    from training.models import TrainedModel
    from training.serializers import TrainedModelSerializer

    user = request.user
    jobs = Job.objects.visible_to(user)
    job_counts = jobs.aggregate(total=Count("id"), active=Count("id", filter=Q(status__in=[
        JobStatus.QUEUED, JobStatus.RUNNING])), failed=Count("id", filter=Q(status=JobStatus.FAILED)))
    datasets = Dataset.objects.visible_to(user)
    models = TrainedModel.objects.visible_to(user)
    spent = (datasets.annotate(epsilon=Sum("privacy_spends__epsilon"), delta=Sum("privacy_spends__delta"),
                               runs=Count("privacy_spends"))
             .filter(runs__gt=0).order_by("-epsilon")[:20])
    return Response({
        "jobs": {**job_counts, "recent": JobSerializer(jobs.order_by("-created_at")[:RECENT], many=True).data},
        "datasets": {
            "total": datasets.count(), "ready": datasets.filter(status=DatasetStatus.READY).count(),
            "recent": DatasetSerializer(datasets.prefetch_related("files").order_by("-created_at")[:RECENT],
                                        many=True).data,
        },
        "models": {
            "total": models.count(), "private": models.filter(private=True).count(),
            "recent": TrainedModelSerializer(models.order_by("-created_at")[:RECENT], many=True).data,
        },
        # Runs on the same dataset compose (their epsilons add up); different datasets do not.
        "privacy": [{"dataset": d.pk, "name": d.name, "epsilon": d.epsilon, "delta": d.delta, "runs": d.runs}
                    for d in spent],
    })
