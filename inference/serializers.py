from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from datasets.models import Dataset, DatasetStatus
from privface_core.errors import UserError

from .models import Gallery, GalleryMode, GallerySource, SearchAudit

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


class GallerySerializer(serializers.ModelSerializer):
    embedder = serializers.SerializerMethodField()
    he_profile = serializers.SerializerMethodField()
    threshold = serializers.SerializerMethodField()

    class Meta:
        model = Gallery
        fields = [
            "id", "name", "status", "source", "dataset", "mode", "embedder", "dim", "model", "identities",
            "templates", "photos", "skipped", "error", "job", "version", "he_profile", "threshold",
            "threshold_override", "fpir_target", "calibration", "created_at", "updated_at",
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


class GalleryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    source = serializers.ChoiceField(choices=GallerySource.choices)
    dataset = serializers.IntegerField(required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=GalleryMode.choices, default=GalleryMode.MEAN)
    model = serializers.IntegerField(required=False, allow_null=True,
                                     help_text="a trained model of yours; null or absent: the reference embedder")
    fpir_target = serializers.FloatField(min_value=0.0001, max_value=0.5, default=0.01)

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
