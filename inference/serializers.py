from django.conf import settings
from rest_framework import serializers

from datasets.models import Dataset, DatasetStatus

from .models import Gallery, GalleryMode, GallerySource, SearchAudit


def embedder_metadata(name: str, dim: int) -> dict:
    from inference.engine.embedders import reference_embedder

    reference = reference_embedder()
    if name == reference.name:
        return {**reference.metadata, "default_threshold": reference.default_threshold}
    return {"name": name, "dim": dim, "private": None, "source": "unknown", "default_threshold": None}


class GallerySerializer(serializers.ModelSerializer):
    embedder = serializers.SerializerMethodField()
    he_profile = serializers.SerializerMethodField()

    class Meta:
        model = Gallery
        fields = [
            "id", "name", "status", "source", "dataset", "mode", "embedder", "dim", "identities", "templates",
            "photos", "skipped", "error", "job", "version", "he_profile", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_embedder(self, gallery: Gallery) -> dict:
        return embedder_metadata(gallery.embedder, gallery.dim)

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
        return attrs


class SearchParamsSerializer(serializers.Serializer):
    top_k = serializers.IntegerField(min_value=1, default=5)
    threshold = serializers.FloatField(min_value=-1.0, max_value=1.0, required=False, allow_null=True, default=None)

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
