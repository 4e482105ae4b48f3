from __future__ import annotations

from rest_framework import serializers

from .actions import MODES


class FederatedRequestSerializer(serializers.Serializer):
    """What the dashboard sends; ``config`` holds FederatedConfig fields (an allow-list, checked
    by ``actions.build_config``; a bad value is a 400 naming the field)."""

    dataset = serializers.IntegerField(min_value=1, max_value=(1 << 63) - 1)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    mode = serializers.ChoiceField(choices=MODES, default="simulation")
    config = serializers.DictField(required=False, default=dict)


class FederatedPrivacySerializer(serializers.Serializer):
    dataset = serializers.IntegerField(min_value=1, max_value=(1 << 63) - 1)
    config = serializers.DictField(required=False, default=dict)
