from rest_framework import serializers

from .models import PrivacySpend, TrainedModel


class PrivacyQuerySerializer(serializers.Serializer):
    # Either num_examples, or a dataset: then N is what training on it will use (the images
    # left after the per-identity hold-out), so the estimate equals the ε later spent.
    num_examples = serializers.IntegerField(min_value=1, required=False)
    dataset = serializers.IntegerField(min_value=1, required=False)
    holdout_fraction = serializers.FloatField(min_value=0, max_value=0.5, default=0.1)
    batch_size = serializers.IntegerField(min_value=1)
    epochs = serializers.FloatField(min_value=0.001, max_value=10_000)
    delta = serializers.FloatField(min_value=0, max_value=1)
    noise_multiplier = serializers.FloatField(min_value=0, max_value=1000, required=False)
    target_epsilon = serializers.FloatField(min_value=0.001, max_value=1000, required=False)
    accountant = serializers.ChoiceField(choices=["rdp", "pld"], default="rdp")

    def validate(self, attrs: dict) -> dict:
        if ("num_examples" in attrs) == ("dataset" in attrs):
            raise serializers.ValidationError({"num_examples": ["give num_examples or dataset"]})
        if "dataset" in attrs:
            attrs["num_examples"] = self._examples_of(attrs["dataset"], attrs["holdout_fraction"])
        if ("noise_multiplier" in attrs) == ("target_epsilon" in attrs):
            raise serializers.ValidationError({"noise_multiplier": ["give noise_multiplier or target_epsilon"]})
        if attrs["num_examples"] < 1:
            raise serializers.ValidationError({"dataset": ["has no images to train on"]})
        if attrs["batch_size"] > attrs["num_examples"]:
            raise serializers.ValidationError({"batch_size": ["must not exceed num_examples"]})
        if not 0 < attrs["delta"] < 1:
            raise serializers.ValidationError({"delta": ["must be between 0 and 1 (exclusive)"]})
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

    dataset = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    config = serializers.DictField(required=False, default=dict)


class TrainedModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrainedModel
        fields = [
            "id", "name", "dataset", "job", "private", "epsilon", "delta", "accountant",
            "verification_accuracy", "mia_auc", "created_at",
        ]
        read_only_fields = fields


class TrainedModelDetailSerializer(TrainedModelSerializer):
    class Meta(TrainedModelSerializer.Meta):
        fields = [*TrainedModelSerializer.Meta.fields, "card"]
        read_only_fields = fields


class PrivacySpendSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrivacySpend
        fields = ["id", "job", "model", "epsilon", "delta", "accountant", "created_at"]
        read_only_fields = fields
