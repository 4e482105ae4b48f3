from django.utils.module_loading import import_string
from rest_framework import serializers

from . import kinds
from .models import Job, JobEvent


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = [
            "id", "kind", "status", "progress", "message", "params", "result", "error",
            "attempts", "cancel_requested", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields


class JobCreateSerializer(serializers.Serializer):
    kind = serializers.CharField()
    params = serializers.DictField(required=False, default=dict)

    def validate_kind(self, value: str) -> str:
        kind = kinds.get(value)
        if kind is None or not kind.user_creatable:
            choices = ", ".join(name for name in kinds.names() if kinds.get(name).user_creatable)
            raise serializers.ValidationError(f"unknown job kind; one of: {choices}")
        return value

    def validate(self, attrs: dict) -> dict:
        params_class = import_string(kinds.get(attrs["kind"]).params_serializer)
        params = params_class(data=attrs.get("params") or {})
        if not params.is_valid():
            raise serializers.ValidationError({"params": params.errors})
        attrs["params"] = dict(params.validated_data)
        return attrs


class JobEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["id", "job", "time", "kind", "payload"]
