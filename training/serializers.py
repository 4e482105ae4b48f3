import math

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from privface_core.errors import UserError
from training.engine import dp_params

from .models import PrivacySpend, TrainedModel

# What a client may set in a training run's config; everything else is the server's
# (data paths, devices, threads, evaluation sizes) or unknown. An allow-list: a new
# TrainConfig field stays server-side until it is added here.
USER_CONFIG_FIELDS = frozenset({
    "model", "head", "embedding_size", "image_size", "flip", "holdout_fraction",
    "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "lr_schedule", "lr_steps",
    "warmup_epochs", "use_dp", "l2_norm_clip", "noise_multiplier", "target_epsilon", "delta", "accountant",
    "seed",
})


class PrivacyQuerySerializer(serializers.Serializer):
    """Types here; the values are checked by dp_params, as for the CLI and the configs, within
    the web's bounds (dp_params.ESTIMATE_BOUNDS)."""

    # Either num_examples, or a dataset: then N is what training on it will use (the images
    # left after the per-identity hold-out), so the estimate equals the ε later spent.
    num_examples = serializers.IntegerField(required=False)
    dataset = serializers.IntegerField(min_value=1, max_value=(1 << 63) - 1, required=False)
    holdout_fraction = serializers.FloatField(min_value=0, max_value=0.5, default=0.1)
    batch_size = serializers.IntegerField()
    epochs = serializers.FloatField()
    delta = serializers.FloatField()
    noise_multiplier = serializers.FloatField(required=False)
    target_epsilon = serializers.FloatField(required=False)
    accountant = serializers.ChoiceField(choices=dp_params.ACCOUNTANTS, default="rdp")

    def validate(self, attrs: dict) -> dict:
        if ("num_examples" in attrs) == ("dataset" in attrs):
            raise serializers.ValidationError({"num_examples": ["give num_examples or dataset"]})
        if "dataset" in attrs:
            attrs["num_examples"] = self._examples_of(attrs["dataset"], attrs["holdout_fraction"])
            if attrs["num_examples"] < 1:
                raise serializers.ValidationError({"dataset": ["has no images to train on"]})
        try:
            dp_params.check_estimate(attrs["num_examples"], attrs["batch_size"], attrs["epochs"], attrs["delta"],
                                     attrs["accountant"], attrs.get("noise_multiplier"), attrs.get("target_epsilon"),
                                     bounds=dp_params.ESTIMATE_BOUNDS)
        except dp_params.PlanError as err:
            raise serializers.ValidationError({err.field: [str(err)]}) from None
        return attrs

    def _examples_of(self, dataset_id: int, fraction: float) -> int:
        from datasets.models import Dataset
        from training.engine.data import training_examples

        user = self.context["request"].user
        dataset = Dataset.objects.visible_to(user).filter(pk=dataset_id).first()
        if dataset is None:
            raise serializers.ValidationError({"dataset": ["no such dataset"]})
        counts = list((dataset.summary.get("per_identity") or {}).values())
        return training_examples(counts, fraction)


class TrainingRequestSerializer(serializers.Serializer):
    """What the dashboard sends; every other TrainConfig field keeps its default or is
    checked by TrainConfig.validate (errors name the field)."""

    dataset = serializers.IntegerField(min_value=1, max_value=(1 << 63) - 1)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    config = serializers.DictField(required=False, default=dict)


def check_user_config(config: dict) -> None:
    """Only USER_CONFIG_FIELDS may come from a client (UserError naming the others)."""
    from training.engine.config import TrainConfig

    known = set(TrainConfig.__dataclass_fields__)
    unknown = sorted(set(config) - known)
    if unknown:
        raise UserError(f"unknown training parameter(s): {', '.join(unknown)}")
    server_side = sorted(set(config) - USER_CONFIG_FIELDS)
    if server_side:
        raise UserError(f"{', '.join(server_side)}: set by the server, not by a request")


def check_against_dataset(config, dataset) -> None:
    """Checks that need the dataset: the batch must fit in its training images."""
    from training.engine.data import training_examples

    counts = list((dataset.summary.get("per_identity") or {}).values())
    fraction = config.holdout_fraction
    examples = training_examples(counts, fraction) if counts else math.floor(dataset.images * (1 - fraction))
    if examples and config.batch_size > examples:
        raise UserError(f"--batch_size must not exceed the {examples} training images of {dataset.name!r},"
                        f" got {config.batch_size}")


class OnnxExportSerializer(serializers.Serializer):
    """The backbone as ONNX for the browser's embedder: fetch ``url``, check ``sha256``, cache by it."""

    sha256 = serializers.CharField()
    url = serializers.CharField()
    bytes = serializers.IntegerField(allow_null=True)


class TrainedModelSerializer(serializers.ModelSerializer):
    # For the gallery form: whether the backbone can embed, the DP unit, and who uses it.
    ready = serializers.SerializerMethodField()
    dp_unit = serializers.SerializerMethodField()
    galleries = serializers.SerializerMethodField()
    onnx = serializers.SerializerMethodField()

    class Meta:
        model = TrainedModel
        fields = [
            "id", "name", "dataset", "job", "private", "epsilon", "delta", "accountant",
            "verification_accuracy", "mia_auc", "created_at", "ready", "dp_unit", "galleries", "onnx",
        ]
        read_only_fields = fields

    def get_ready(self, model: TrainedModel) -> bool:
        embedding = ((model.card or {}).get("model") or {}).get("embedding_size")
        return bool(embedding) and (model.export_dir / "backbone.keras").is_file()

    def get_dp_unit(self, model: TrainedModel) -> str | None:
        return ((model.card or {}).get("dp") or {}).get("unit") if model.private else None

    def get_galleries(self, model: TrainedModel) -> list[dict]:
        return [{"id": pk, "name": name} for pk, name in model.galleries.values_list("pk", "name")]

    @extend_schema_field(OnnxExportSerializer(allow_null=True))
    def get_onnx(self, model: TrainedModel) -> dict | None:
        if not model.onnx_sha256:
            return None
        size = ((model.card or {}).get("onnx") or {}).get("bytes")
        return {"sha256": model.onnx_sha256, "url": reverse("model-onnx", args=[model.pk]), "bytes": size}


class TrainedModelDetailSerializer(TrainedModelSerializer):
    class Meta(TrainedModelSerializer.Meta):
        fields = [*TrainedModelSerializer.Meta.fields, "card"]
        read_only_fields = fields


class PrivacySpendSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrivacySpend
        fields = ["id", "job", "model", "epsilon", "delta", "accountant", "created_at"]
        read_only_fields = fields
