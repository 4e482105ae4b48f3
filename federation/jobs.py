"""The `federated` job: one federated run on a `gpu` worker. The run itself is a child process
(``federation.engine.runner``); this relays its events to the job and registers the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from rest_framework import serializers

from datasets.models import Dataset
from training.engine import checkpoint

from . import actions


class FederatedParams(serializers.Serializer):
    dataset_id = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=200)
    config = serializers.DictField()
    mode = serializers.ChoiceField(choices=actions.MODES, default="simulation")


class Relay:
    """Run events -> job events: progress per round, one metric point per round, client rows."""

    def __init__(self, ctx) -> None:
        self.ctx, self.cancelled = ctx, False

    def __call__(self, event: dict[str, Any]) -> None:
        from jobs.runner import JobCancelled

        kind = event["type"]
        try:
            if kind == "start":
                self.ctx.progress(0.0, f"Federated run: {event['clients']} clients, {event['rounds']} rounds",
                                  partition=event.get("partition"), dp_level=event.get("dp_level"),
                                  noise_multiplier=event.get("noise_multiplier"))
            elif kind == "round":
                rnd, total = event["round"], event["total_rounds"]
                self.ctx.metric(round=rnd, loss=event.get("loss"), accuracy=event.get("accuracy"),
                                held_accuracy=event.get("held_accuracy"), epsilon=event.get("epsilon"),
                                verification_accuracy=event.get("verification_accuracy"),
                                sampled=event["sampled"], replied=event["replied"], failed=event["failed"],
                                clients=event.get("clients", []))
                self.ctx.progress(rnd / total, f"Round {rnd} of {total}: {event['replied']} of {event['sampled']}"
                                  " clients replied", round=rnd, total=total)
            elif kind == "log":
                self.ctx.log(event["message"], event.get("level", "info"))
        except JobCancelled:
            self.cancelled = True  # the run stops after this round; its model is kept

    def should_cancel(self) -> bool:
        return self.cancelled or self.ctx.cancel_requested


def run(ctx) -> dict:
    from federation.engine.runner import run as run_federated
    from jobs.models import Job
    from jobs.runner import JobCancelled
    from training.actions import register_export

    dataset = Dataset.objects.get(pk=ctx.params["dataset_id"])
    config = actions.build_config(dataset, ctx.params["config"], ctx.params.get("mode", "simulation"))
    config.output_dir = str(Path(settings.DATA_ROOT) / "federated" / f"job-{ctx.job_id}")
    # A retried job (its worker died) continues from its last round's checkpoint.
    config.resume = checkpoint.path_in(config.output_dir).exists()
    bins = list(dataset.files.filter(role="bin").order_by("id"))
    if bins:
        config.eval_bin = str(bins[0].path)
    relay = Relay(ctx)
    result = run_federated(config, relay, relay.should_cancel)
    card = result["model_card"]
    card["data"]["path"] = f"dataset {dataset.pk}"  # the owner needs no server paths
    model = register_export(Job.objects.get(pk=ctx.job_id), dataset, ctx.params["name"], card,
                            Path(result["export_dir"]))
    if relay.cancelled:
        raise JobCancelled()  # the rounds done are kept: the model is registered and charged
    return {"model_id": model.pk, "epsilon": result.get("epsilon"), "stopped": result["stopped"],
            "rounds_completed": result["rounds_completed"], "verification_accuracy": result.get(
                "verification_accuracy")}
