from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from . import actions
from .models import Job
from .serializers import JobCreateSerializer, JobEventSerializer, JobSerializer

MAX_ID = (1 << 63) - 1


def parse_after(raw: str | None) -> int:
    """``?after=N``: an event id; anything else (``%C2%B2``, ``-3``, 40 digits) counts as 0 or the largest id."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit():
        return 0
    return min(int(text[:20]), MAX_ID)


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer

    def get_queryset(self):
        return Job.objects.visible_to(self.request.user)

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request: Request) -> Response:
        data = JobCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        job = actions.create_job(request.user, data.validated_data["kind"], data.validated_data["params"])
        return Response(JobSerializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        job = actions.request_cancel(self.get_object().pk)
        return Response(JobSerializer(job).data)

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="only events with a larger id")],
        responses=JobEventSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def events(self, request: Request, pk: str | None = None) -> Response:
        job = self.get_object()
        events = job.events.filter(id__gt=parse_after(request.query_params.get("after")))[:1000]
        return Response(JobEventSerializer(events, many=True).data)
