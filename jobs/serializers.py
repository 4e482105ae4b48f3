from django.utils.module_loading import import_string
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

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
        request = self.context.get("request")
        allowed = kinds.creatable_by(request.user if request is not None else None)
        if value not in allowed:
            kind = kinds.get(value)
            if kind is not None and kind.user_creatable and kind.staff_only:
                raise PermissionDenied(f"only staff may start {value} jobs")
            raise serializers.ValidationError(f"unknown job kind; one of: {', '.join(allowed) or 'none'}")
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
