from rest_framework import serializers

from .models import Dataset, DatasetFile


class DatasetFileSerializer(serializers.ModelSerializer):
    complete = serializers.BooleanField(read_only=True)

    class Meta:
        model = DatasetFile
        fields = ["id", "role", "filename", "size", "sha256", "received", "complete", "created_at"]
        read_only_fields = fields


class NewFileSerializer(serializers.Serializer):
    filename = serializers.CharField(max_length=200)
    size = serializers.IntegerField(min_value=1)
    sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", error_messages={"invalid": "64 lowercase hex digits"})


class DatasetSerializer(serializers.ModelSerializer):
    files = DatasetFileSerializer(many=True, read_only=True)

    class Meta:
        model = Dataset
        fields = [
            "id", "name", "status", "extract_images", "layout", "images", "identities", "error", "job",
            "files", "created_at", "updated_at",
        ]
        read_only_fields = [f for f in fields if f not in ("name", "extract_images")]


class DatasetDetailSerializer(DatasetSerializer):
    """Detail adds the extraction summary (per-identity counts, image size, eval sets)."""

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "summary"]
        read_only_fields = [*DatasetSerializer.Meta.read_only_fields, "summary"]
