"""The `train` job: one centralized training run on a `gpu` worker, reporting every step
and epoch through the job's events, and registering the exported model at the end."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from rest_framework import serializers

from datasets.models import Dataset

from . import actions

STEP_EVENT_SECONDS = 1.0  # at most one progress event a second: steps can be milliseconds


class TrainParams(serializers.Serializer):
    dataset_id = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=200)
    config = serializers.DictField()


def run(ctx) -> dict:
    from training.engine.trainer import Callbacks, train

    dataset = Dataset.objects.get(pk=ctx.params["dataset_id"])
    config = actions.build_config(dataset, ctx.params["config"])
    config.output_dir = str(Path(settings.DATA_ROOT) / "training" / f"job-{ctx.job_id}")
    # A retried job (its worker died) continues from its last epoch's checkpoint.
    config.resume = (Path(config.output_dir) / "checkpoint").exists()
    bins = list(dataset.files.filter(role="bin").order_by("id"))
    if bins:
        config.eval_bin = str(bins[0].path)

    class Report(Callbacks):
        def on_step(self, step: int, total_steps: int, metrics: dict) -> None:
            ctx.progress_every(step / total_steps, f"Epoch {metrics.get('epoch')} · step {step} of {total_steps}",
                               seconds=STEP_EVENT_SECONDS, last=step == total_steps, step=step, total=total_steps,
                               loss=metrics.get("loss"))

        def on_epoch(self, epoch: int, metrics: dict) -> None:
            ctx.metric(epoch=epoch, step=metrics.get("step"), loss=metrics.get("loss"),
                       accuracy=metrics.get("train_accuracy"), epsilon=metrics.get("epsilon"),
                       verification_accuracy=metrics.get("verification_accuracy"))

    result = train(config, Report(), cancel_check=ctx.check_cancelled)
    from jobs.models import Job

    card = result.model_card
    if isinstance(card.get("data"), dict):
        card["data"]["path"] = f"dataset {dataset.pk}"  # the owner needs no server paths
    model = actions.register_export(Job.objects.get(pk=ctx.job_id), dataset, ctx.params["name"], card,
                                    Path(result.export_dir))
    return {"model_id": model.pk, "epsilon": result.to_dict()["epsilon"], "stopped": result.stopped,
            "epochs_completed": result.epochs_completed}
