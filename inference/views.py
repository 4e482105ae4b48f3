"""Gallery and encrypted-search API (contract: docs/search.md)."""

from __future__ import annotations

import os
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inference.engine import he_browser, he_wire
from inference.engine.enroll import check_label, parse_labels_csv
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY
from jobs.serializers import JobSerializer
from privface_core.errors import TooLarge, UserError
from privface_site.parsers import RawBodyParser

from . import actions, calibration, search, warmup
from .models import Gallery
from .serializers import (
    GalleryCreateSerializer,
    GallerySerializer,
    SearchAuditSerializer,
    SearchParamsSerializer,
    ThresholdSerializer,
    UploadFlagsSerializer,
    embedder_metadata,
)
from .storage import store_for


def _raw_body(request: Request, limit: int, what: str) -> bytes:
    """The request body as bytes (application/octet-stream), refusing more than ``limit``."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit():
        raise UserError("Content-Length must be a number")
    if int(length) > limit:
        raise TooLarge(f"{what} is {length} bytes; the limit is {limit}")
    stream = request.stream
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise TooLarge(f"{what} is over the limit of {limit} bytes")
    return data


def _from_browser(body: bytes, kind: str, convert) -> tuple[bytes, bool]:
    """(the CLI's payload, whether the body was in the browser's format): a body whose
    header says ``"format": "seal-4.1"`` is converted (he_browser); any other body goes to
    the existing checks unchanged."""
    try:
        if he_browser.payload_format(body, kind) is None:
            return body, False
    except he_browser.UnknownFormat as exc:
        raise UserError(str(exc)) from None
    except he_wire.PayloadError:  # not a payload at all: the existing checks say why
        return body, False
    try:
        return convert(body), True
    except he_wire.PayloadError as exc:
        raise UserError(f"not an acceptable {he_browser.BROWSER_FORMAT} payload: {exc}") from None


def _thumbnail_url(request: Request, gallery_id: int):
    def url(label: str, version: int) -> str:
        return request.build_absolute_uri(
            f"/api/galleries/{gallery_id}/identities/{quote(label, safe='')}/thumbnail/?v={version}")
    return url


def _labels_for(request: Request, files: list) -> list[str]:
    """One label per file: repeated ``labels`` fields in file order, or a ``labels_csv``
    file (``file,identity``) naming the uploaded files."""
    labels = request.data.getlist("labels") if hasattr(request.data, "getlist") else []
    sheet = request.FILES.get("labels_csv")
    if sheet is not None and labels:
        raise ValidationError({"labels": ["give either labels or labels_csv, not both"]})
    if sheet is not None:
        try:
            by_name = {os.path.basename(row.file): row.label for row in parse_labels_csv(sheet.read())}
        except UserError as exc:
            raise ValidationError({"labels_csv": [str(exc)]}) from None
        missing = [f.name for f in files if os.path.basename(f.name or "") not in by_name]
        if missing:
            raise ValidationError({"labels_csv": [f"no row for {', '.join(missing[:5])}"]})
        labels = [by_name[os.path.basename(f.name)] for f in files]
    if len(labels) != len(files):
        raise ValidationError({"labels": [f"{len(labels)} labels for {len(files)} files: give one label per file"]})
    try:
        return [check_label(label, f"label of {f.name}") for label, f in zip(labels, files, strict=True)]
    except UserError as exc:
        raise ValidationError({"labels": [str(exc)]}) from None


def _created(gallery: Gallery, job) -> Response:
    body = {"gallery": GallerySerializer(gallery).data, "job": JobSerializer(job).data if job else None}
    return Response(body, status=status.HTTP_202_ACCEPTED if job else status.HTTP_201_CREATED)


class GalleryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = GallerySerializer

    def get_queryset(self):
        galleries = Gallery.objects.visible_to(self.request.user)
        name = self.request.query_params.get("name")
        if self.action == "list" and name is not None:
            galleries = galleries.filter(name=name)
        return galleries

    @extend_schema(parameters=[OpenApiParameter("name", str, description="exact gallery name")])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=GalleryCreateSerializer, responses={201: dict, 202: dict})
    def create(self, request: Request) -> Response:
        """Create a gallery: from a ready dataset (starts the enrollment, 202) or empty for photos (201)."""
        data = GalleryCreateSerializer(data=request.data, context={"user": request.user})
        data.is_valid(raise_exception=True)
        gallery, job = actions.create_gallery(request.user, **data.validated_data)
        return _created(gallery, job)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        actions.delete_gallery(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request={"multipart/form-data": dict}, responses={202: dict})
    @action(detail=True, methods=["post"])
    def images(self, request: Request, pk: str | None = None) -> Response:
        """Labelled photos (multipart ``files`` + ``labels`` or ``labels_csv``): added by an enrollment job.

        ``aligned=true``: 112x112 photos are aligned crops (no detection). ``background=true``:
        photos of people NOT enrolled (no labels needed); they only calibrate the threshold."""
        gallery = self.get_object()
        try:
            files = request.FILES.getlist("files")
        except TooManyFilesSent:
            raise TooLarge(f"one upload may carry at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files; "
                           "send the photos in several uploads") from None
        if not files:
            raise ValidationError({"files": ["upload at least one photo in the multipart field files"]})
        total = sum(f.size or 0 for f in files)
        if total > settings.GALLERY_UPLOAD_MAX_BYTES:
            raise TooLarge(f"the photos are {total} bytes; one upload may carry {settings.GALLERY_UPLOAD_MAX_BYTES}")
        flags = UploadFlagsSerializer(data={k: request.data.get(k) for k in ("aligned", "background")
                                            if request.data.get(k) not in (None, "")})
        flags.is_valid(raise_exception=True)
        background = flags.validated_data["background"]
        labels = ["background"] * len(files) if background else _labels_for(request, files)
        job = actions.add_photos(gallery, list(zip(files, labels, strict=True)),
                                 aligned=flags.validated_data["aligned"], background=background)
        gallery.refresh_from_db()
        return _created(gallery, job)

    @extend_schema(request={"multipart/form-data": dict}, responses={200: dict})
    @action(detail=True, methods=["post"])
    def search(self, request: Request, pk: str | None = None) -> Response:
        """Search a photo (multipart ``image``, optional ``top_k``, ``threshold``) under encryption."""
        gallery = self.get_object()
        image = request.FILES.get("image")
        if image is None:
            raise ValidationError({"image": ["a photo is required (multipart field image)"]})
        if image.size and image.size > settings.SEARCH_MAX_IMAGE_BYTES:
            raise TooLarge(f"the photo is {image.size} bytes; the limit is {settings.SEARCH_MAX_IMAGE_BYTES}")
        params = SearchParamsSerializer(data={k: v for k, v in request.data.items()
                                              if k in ("top_k", "threshold", "aligned") and v != ""})
        params.is_valid(raise_exception=True)
        body = search.search_photo(request.user, gallery, image.read(), top_k=params.validated_data["top_k"],
                                   threshold=params.validated_data["threshold"],
                                   thumbnail_url=_thumbnail_url(request, gallery.pk),
                                   aligned=params.validated_data["aligned"])
        return Response(body)

    @extend_schema(request=None, responses={202: dict})
    @action(detail=True, methods=["post"])
    def warm(self, request: Request, pk: str | None = None) -> Response:
        """Encode the gallery's shards on the workers now (the Search page asks when it opens a
        gallery), so that its first search does not wait for it. Queued at most once a
        minute per gallery version; 429 past SEARCH_WARM_PER_USER_MINUTE galleries a minute."""
        gallery = self.get_object()
        try:
            queued = warmup.warm(gallery, request.user.pk)
        except warmup.TooManyWarmups:
            raise Throttled(wait=60, detail="too many galleries warmed this minute; search works without it") from None
        return Response({"queued": queued, "searchable": gallery.searchable}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ThresholdSerializer, responses=GallerySerializer)
    @action(detail=True, methods=["post"])
    def threshold(self, request: Request, pk: str | None = None) -> Response:
        """The owner's open-set threshold (null: the calibrated one) and/or a new FPIR target."""
        gallery = self.get_object()
        data = ThresholdSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gallery = actions.set_threshold(gallery, threshold=data.validated_data["threshold"],
                                        fpir_target=data.validated_data.get("fpir_target"),
                                        recalibrate=calibration.recalibrator(gallery))
        return Response(GallerySerializer(gallery).data)

    @extend_schema(parameters=[OpenApiParameter("key_id", str, required=True)],
                   request={"application/octet-stream": bytes}, responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["post"], url_path="encrypted-search", parser_classes=[RawBodyParser])
    def encrypted_search(self, request: Request, pk: str | None = None) -> HttpResponse:
        """Raw query ciphertext in, raw score_set container out (the key stays with the client)."""
        gallery = self.get_object()
        query = _raw_body(request, settings.HE_MAX_QUERY_BYTES, "the query")
        query, browser = _from_browser(query, QUERY, he_browser.query_from_browser)
        body, headers = search.encrypted_search(request.user, gallery, request.query_params.get("key_id", ""), query)
        if browser:  # node-seal loads only uncompressed SEAL 4.1 ciphertexts
            body = he_browser.scores_to_browser(body, search.gallery_profile(gallery))
        return HttpResponse(body, content_type="application/octet-stream", headers=headers)

    @extend_schema(responses=SearchAuditSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str | None = None) -> Response:
        """Searches of this gallery, newest first (no images, embeddings or scores are kept)."""
        rows = self.get_object().audits.select_related("user")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(SearchAuditSerializer(page, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("fields", str, enum=["ranking"], description=(
        "ranking: only what a key holder needs to rank (version, entries, labels, score, sq_norms)"))],
        responses=dict)
    @action(detail=True, methods=["get"])
    def labels(self, request: Request, pk: str | None = None) -> Response:
        """The label of every template, in score order (for a remote key holder to rank)."""
        fields = request.query_params.get("fields")
        if fields not in (None, "ranking"):
            raise ValidationError({"fields": ["the only choice is 'ranking'"]})
        gallery = self.get_object()
        if not gallery.searchable:
            return Response({"version": gallery.version, "entries": 0, "labels": [], "identities": []})
        meta = store_for(gallery.pk, gallery.store).read_labels()
        ranking = {"version": gallery.version, "entries": len(meta["labels"]), "labels": meta["labels"],
                   "score": meta.get("score", "cosine"),
                   **({"sq_norms": meta["sq_norms"]} if "sq_norms" in meta else {})}
        if fields == "ranking":  # the browser's private search: 1.9 MB instead of 5.9 at 100k templates
            return Response(ranking)
        return Response({**ranking, "identities": list(meta["photos"]), "photos": meta["photos"],
                         "embedder": embedder_metadata(gallery)})


class ThumbnailView(APIView):
    @extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
    def get(self, request: Request, gallery_id: int, label: str) -> HttpResponse:
        gallery = get_object_or_404(Gallery.objects.visible_to(request.user), pk=gallery_id)
        if not gallery.store:
            raise Http404
        jpeg = store_for(gallery.pk, gallery.store).read_thumbnail(label)
        if jpeg is None:
            raise Http404
        response = HttpResponse(jpeg, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class FaceModelView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, name: str) -> FileResponse:
        """One of the portable face pipeline's two ONNX files (the browser's detector and landmarks);
        ``X-Content-SHA256`` and the ETag are the digest a gallery's ``private_search`` lists."""
        from inference.engine.portable_faces import MODEL_FILES, model_info

        filename = f"{name}.onnx"
        if filename not in MODEL_FILES:  # only the two known names: nothing from the URL reaches a path
            raise Http404
        info = model_info(filename)
        response = FileResponse(info["path"].open("rb"), content_type="application/octet-stream",
                                as_attachment=True, filename=filename)
        response["X-Content-SHA256"] = info["sha256"]
        response["ETag"] = f'"{info["sha256"]}"'
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        return response


class HEContextView(APIView):
    parser_classes = [RawBodyParser]  # the body is read raw; see RawBodyParser for why it exists

    @extend_schema(request={"application/octet-stream": bytes}, responses={201: dict})
    def post(self, request: Request) -> Response:
        """Register a public context (raw he_wire bytes); answers its key_id."""
        body = _raw_body(request, settings.HE_MAX_CONTEXT_BYTES, "the public context")
        body, browser = _from_browser(body, PUBLIC_CONTEXT, he_browser.context_from_browser)
        answer = search.register_context(body, request.user.pk)
        if browser:
            answer["format"] = he_browser.BROWSER_FORMAT
        return Response(answer, status=status.HTTP_201_CREATED)
