"""Dataset API: create, resumable chunked uploads, finalize (extraction job), browse, delete."""

from __future__ import annotations

import os
import re

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.serializers import JobSerializer
from privface_core.errors import TooLarge, UserError

from . import actions
from .models import Dataset, DatasetFile
from .serializers import DatasetDetailSerializer, DatasetFileSerializer, DatasetSerializer, NewFileSerializer

IMAGE_NAME = re.compile(r"^[0-9]{1,20}\.(jpg|png)$")  # what extraction writes; bounded so no name is too long
SAMPLES_PER_IDENTITY = 3


class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DatasetSerializer

    def get_queryset(self):
        return Dataset.objects.visible_to(self.request.user).prefetch_related("files")

    def get_serializer_class(self):
        return DatasetDetailSerializer if self.action == "retrieve" else DatasetSerializer

    def create(self, request: Request) -> Response:
        data = DatasetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = actions.create_dataset(request.user, **data.validated_data)
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_dataset(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=NewFileSerializer, responses={201: DatasetFileSerializer, 200: DatasetFileSerializer})
    @action(detail=True, methods=["post"])
    def files(self, request: Request, pk: str | None = None) -> Response:
        """Announce a file (name, size, sha256). Announcing it again returns the upload to resume."""
        data = NewFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload, created = actions.add_file(self.get_object(), **data.validated_data)
        return Response(DatasetFileSerializer(upload).data, status=201 if created else 200)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def finalize(self, request: Request, pk: str | None = None) -> Response:
        job = actions.finalize(self.get_object())
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("offset", int), OpenApiParameter("limit", int)],
        responses={200: dict},
    )
    @action(detail=True, methods=["get"])
    def identities(self, request: Request, pk: str | None = None) -> Response:
        """Identities with image counts and a few sample image URLs (owner only)."""
        dataset = self.get_object()
        counts = dataset.summary.get("per_identity", {})
        labels = sorted(counts, key=int)
        offset = _int_param(request, "offset", 0)
        limit = min(_int_param(request, "limit", 100), 1000)
        results = []
        for label in labels[offset : offset + limit]:
            results.append({"label": int(label), "count": counts[label], "samples": [
                request.build_absolute_uri(f"/api/datasets/{dataset.pk}/images/{label}/{name}")
                for name in _first_images(dataset.extracted_dir / label)
            ]})
        return Response({"count": len(labels), "results": results})


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # isdigit() alone admits superscripts ("²") that int() refuses; 18 digits stay below 2**63.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise UserError(f"{name} must be a whole number from 0 to {10**18 - 1}")
    return int(raw)


def _first_images(folder) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            names = sorted((e.name for e in entries if IMAGE_NAME.match(e.name)), key=lambda n: int(n.split(".")[0]))
    except FileNotFoundError:
        return []
    return names[:SAMPLES_PER_IDENTITY]


def _upload(request: Request, dataset_id: int, file_id: int) -> DatasetFile:
    return get_object_or_404(
        DatasetFile.objects.select_related("dataset"),
        pk=file_id, dataset_id=dataset_id, dataset__in=Dataset.objects.visible_to(request.user),
    )


class UploadView(APIView):
    @extend_schema(responses=DatasetFileSerializer)
    def get(self, request: Request, dataset_id: int, file_id: int) -> Response:
        """Where to resume: ``received`` bytes are stored."""
        return Response(DatasetFileSerializer(_upload(request, dataset_id, file_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int, file_id: int) -> Response:
        """Remove a file to replace it (while uploading, or after a failed extraction)."""
        actions.remove_file(_upload(request, dataset_id, file_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChunkView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("offset", int, required=True)],
        request={"application/octet-stream": bytes},
        responses=DatasetFileSerializer,
    )
    def put(self, request: Request, dataset_id: int, file_id: int) -> Response:
        """Write the body at ``offset``. Idempotent: a retried chunk is fine; a gap is a 409
        carrying ``received``, the offset to resume from. An ``X-Chunk-Sha256`` header (hex
        digest of the body) makes the server refuse a chunk damaged in transit."""
        from django.conf import settings

        upload = _upload(request, dataset_id, file_id)
        offset = _int_param(request, "offset", -1)
        if offset < 0:
            raise UserError("offset query parameter is required")
        length = request.META.get("CONTENT_LENGTH") or ""
        if not (length.isascii() and length.isdigit()) or int(length) == 0:
            raise UserError("a chunk needs a non-empty body with Content-Length")
        if int(length) > settings.UPLOAD_CHUNK_MAX_BYTES:
            raise TooLarge(f"chunks are at most {settings.UPLOAD_CHUNK_MAX_BYTES} bytes")
        # One chunk (at most UPLOAD_CHUNK_MAX_BYTES) is held in memory while it is checked and written.
        upload = actions.write_chunk(upload, offset, request.stream, int(length),
                                     sha256=request.headers.get("X-Chunk-Sha256", ""))
        return Response(DatasetFileSerializer(upload).data)


class CompleteView(APIView):
    @extend_schema(request=None, responses=DatasetFileSerializer)
    def post(self, request: Request, dataset_id: int, file_id: int) -> Response:
        """Check size and sha256 of the whole file."""
        upload = actions.complete_file(_upload(request, dataset_id, file_id))
        return Response(DatasetFileSerializer(upload).data)


class ImageView(APIView):
    def get(self, request: Request, dataset_id: int, label: int, name: str):
        dataset = get_object_or_404(Dataset.objects.visible_to(request.user), pk=dataset_id)
        if not IMAGE_NAME.match(name):
            raise Http404
        path = dataset.extracted_dir / str(label) / name
        if not path.is_file():
            raise Http404
        response = FileResponse(path.open("rb"), content_type="image/png" if name.endswith(".png") else "image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response
