from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from datasets.models import Dataset, DatasetStatus
from privface_core.errors import UserError

from .models import FacePipeline, Gallery, GalleryMode, GallerySource, SearchAudit

NOT_PRIVATE = {"private": False, "epsilon": None, "delta": None, "unit": None, "accountant": None,
               "note": "public pretrained weights: not private"}


def embedder_metadata(gallery: Gallery) -> dict:
    """The gallery's embedder as users see it: name, dim, the registry model (if any), its
    privacy (ε, δ, DP unit from the model card, or not private) and default threshold."""
    from inference.engine.embedders import card_privacy, card_threshold, reference_by_name

    reference = None if gallery.model_digest else reference_by_name(gallery.embedder)
    if reference is not None:
        return {**reference.metadata, "default_threshold": reference.default_threshold, "model": None,
                "model_name": None, "privacy": NOT_PRIVATE}
    if gallery.model_digest:
        model = gallery.model
        card = model.card if model is not None else None
        privacy = card_privacy(card) if model is not None else None
        return {"name": gallery.embedder, "dim": gallery.dim, "private": privacy["private"] if privacy else None,
                "source": "trained", "default_threshold": card_threshold(card) if card else None,
                "model": {"id": model.pk, "name": model.name} if model else None,
                "model_name": model.name if model else None, "digest": gallery.model_digest, "privacy": privacy}
    return {"name": gallery.embedder, "dim": gallery.dim, "private": None, "source": "unknown",
            "default_threshold": None, "model": None, "model_name": None, "privacy": None}


def face_model_entry(name: str) -> dict:
    """{url, sha256, bytes} of one of the portable pipeline's two ONNX files."""
    from inference.engine.portable_faces import model_info

    info = model_info(name)
    return {"url": reverse("face-model", args=[name.removesuffix(".onnx")]), "sha256": info["sha256"],
            "bytes": info["bytes"]}


def private_search(gallery: Gallery, embedder: dict, threshold: float | None, he_profile: dict | None) -> dict | None:
    """What a browser needs to search the gallery without sending the photo: the face models,
    the embedder's ONNX file (digests to check before use), the score rule, the threshold and
    the HE profile. None for a dlib gallery or a model without an ONNX export."""
    from inference.engine.portable_faces import DETECTOR_FILE, LANDMARKS_FILE, PIPELINE

    model = gallery.model
    if gallery.faces != FacePipeline.PORTABLE or model is None or not model.onnx_sha256:
        return None
    size = ((model.card or {}).get("onnx") or {}).get("bytes")
    return {
        "faces": {"pipeline": PIPELINE, "detector": face_model_entry(DETECTOR_FILE),
                  "landmarks": face_model_entry(LANDMARKS_FILE)},
        "model": {"id": model.pk, "onnx": {"url": reverse("model-onnx", args=[model.pk]),
                                           "sha256": model.onnx_sha256, "bytes": size}},
        "score_rule": embedder.get("score", "cosine"),
        "threshold": threshold,
        "he_profile": he_profile,
    }


class PrivateSearchFile(serializers.Serializer):  # schema only: a file the browser downloads and checks
    url = serializers.CharField()
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField(allow_null=True)


class PrivateSearchFaces(serializers.Serializer):
    pipeline = serializers.CharField(help_text="portable_faces.PIPELINE: the crop the gallery was enrolled with")
    detector = PrivateSearchFile()
    landmarks = PrivateSearchFile()


class PrivateSearchModel(serializers.Serializer):
    id = serializers.IntegerField()
    onnx = PrivateSearchFile()


class PrivateSearchSerializer(serializers.Serializer):
    """Schema of GallerySerializer.private_search (built by ``private_search``)."""

    faces = PrivateSearchFaces()
    model = PrivateSearchModel()
    score_rule = serializers.CharField()
    threshold = serializers.FloatField(allow_null=True)
    he_profile = serializers.DictField(allow_null=True)


class GallerySerializer(serializers.ModelSerializer):
    embedder = serializers.SerializerMethodField()
    he_profile = serializers.SerializerMethodField()
    threshold = serializers.SerializerMethodField()
    private_search = serializers.SerializerMethodField()

    class Meta:
        model = Gallery
        fields = [
            "id", "name", "status", "source", "dataset", "mode", "embedder", "dim", "model", "faces", "identities",
            "templates", "photos", "skipped", "error", "job", "version", "he_profile", "threshold",
            "threshold_override", "fpir_target", "calibration", "private_search", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_embedder(self, gallery: Gallery) -> dict:
        return embedder_metadata(gallery)

    def get_threshold(self, gallery: Gallery) -> float | None:
        """What a search uses by default: the owner's, else the calibrated, else the model's."""
        threshold = gallery.threshold
        return threshold if threshold is not None else embedder_metadata(gallery)["default_threshold"]

    def get_he_profile(self, gallery: Gallery) -> dict | None:
        """What a remote key holder needs to make keys for this gallery (changes as it grows)."""
        from .search import gallery_profile

        profile = gallery_profile(gallery)
        return profile.to_dict() if profile else None

    @extend_schema_field(PrivateSearchSerializer(allow_null=True))
    def get_private_search(self, gallery: Gallery) -> dict | None:
        """Everything a browser needs for a private search (null: the gallery does not allow one:
        dlib faces, or a model without an ONNX export)."""
        return private_search(gallery, embedder_metadata(gallery), self.get_threshold(gallery),
                              self.get_he_profile(gallery))


class GalleryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    source = serializers.ChoiceField(choices=GallerySource.choices)
    dataset = serializers.IntegerField(required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=GalleryMode.choices, default=GalleryMode.MEAN)
    model = serializers.IntegerField(required=False, allow_null=True,
                                     help_text="a trained model of yours; null or absent: the reference embedder")
    fpir_target = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.01)
    faces = serializers.ChoiceField(choices=FacePipeline.choices, required=False,
                                    help_text="face detection and alignment; default portable for a trained model "
                                              "(searchable privately from the browser), dlib for the reference")

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if Gallery.objects.filter(owner=self.context["user"], name=value).exists():
            raise serializers.ValidationError(f"you already have a gallery named {value!r}")
        return value

    def validate(self, attrs: dict) -> dict:
        dataset_id = attrs.pop("dataset", None)
        if attrs["source"] == GallerySource.DATASET:
            if dataset_id is None:
                raise serializers.ValidationError({"dataset": ["required when source is dataset"]})
            dataset = Dataset.objects.visible_to(self.context["user"]).filter(pk=dataset_id).first()
            if dataset is None:
                raise serializers.ValidationError({"dataset": [f"no dataset {dataset_id}"]})
            if dataset.status != DatasetStatus.READY:
                raise serializers.ValidationError({"dataset": [f"dataset is {dataset.status}, not ready"]})
            if not dataset.extract_images:
                raise serializers.ValidationError({"dataset": ["dataset was indexed without extracting images"]})
            attrs["dataset"] = dataset
        elif dataset_id is not None:
            raise serializers.ValidationError({"dataset": ["only for source dataset"]})
        attrs["model"], attrs["embedder"] = self._model(attrs.pop("model", None))
        attrs["faces"] = default_faces(attrs["model"] is not None, attrs.get("faces"))
        return attrs

    def _model(self, model_id: int | None):
        """(the user's ready model or None, its embedder metadata); another user's model is a 404."""
        from training.models import TrainedModel

        from .enrollment import reference_metadata, trained_metadata

        if model_id is None:
            return None, reference_metadata()
        model = TrainedModel.objects.filter(owner=self.context["user"], pk=model_id).first()
        if model is None:
            raise NotFound(f"no model {model_id}")
        try:
            return model, trained_metadata(model)
        except UserError as exc:
            raise serializers.ValidationError({"model": [str(exc)]}) from None


def default_faces(trained: bool, faces: str | None) -> str:
    """A trained model's gallery is portable unless told dlib; the reference embedder is dlib only
    (its ResNet reads dlib's 150x150 chip, which the portable pipeline does not make)."""
    if trained:
        return faces or FacePipeline.PORTABLE
    if faces == FacePipeline.PORTABLE:
        raise serializers.ValidationError({"faces": ["the reference embedder (dlib's ResNet) needs dlib's face chip: "
                                                     "portable faces need a trained model from the registry"]})
    return FacePipeline.DLIB


class UploadFlagsSerializer(serializers.Serializer):
    aligned = serializers.BooleanField(default=False)
    background = serializers.BooleanField(default=False)


class ThresholdSerializer(serializers.Serializer):
    threshold = serializers.FloatField(min_value=-1.0, max_value=1.0, allow_null=True,
                                       help_text="the owner's threshold; null: back to the calibrated one")
    fpir_target = serializers.FloatField(min_value=0.0001, max_value=0.5, required=False,
                                         help_text="recalibrate for this FPIR")


class SearchParamsSerializer(serializers.Serializer):
    top_k = serializers.IntegerField(min_value=1, default=5)
    threshold = serializers.FloatField(min_value=-1.0, max_value=1.0, required=False, allow_null=True, default=None)
    aligned = serializers.BooleanField(default=False, help_text="the photo is a 112x112 aligned crop: no detection")

    def validate_top_k(self, value: int) -> int:
        if value > settings.SEARCH_MAX_TOP_K:
            raise serializers.ValidationError(f"at most {settings.SEARCH_MAX_TOP_K}")
        return value


class SearchAuditSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = SearchAudit
        fields = ["id", "time", "user", "mode", "gallery_version", "result_count", "matched", "timings"]
        read_only_fields = fields
