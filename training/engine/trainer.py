"""Centralized face-recognition training, with DP-SGD or without: the one entry point.

    from training.engine.config import TrainConfig
    from training.engine.trainer import Callbacks, train
    result = train(TrainConfig(dataset_path=..., use_dp=True, target_epsilon=8), callbacks, cancel_check)

Each epoch: steps (Poisson-sampled with DP, shuffled without), then loss, train and
held-out accuracy, epsilon, verification accuracy on ``eval_bin``, a checkpoint, a line in
``metrics.jsonl`` and ``callbacks.on_epoch``. At the end: the membership-inference audit and
``export/`` (backbone + model card). ``resume`` continues from the checkpoint; batches are
drawn from per-epoch generators seeded by (seed, epoch), so the resumed run takes exactly the
steps the uninterrupted one would have.

With DP and ``target_epsilon``, the noise is calibrated before training so that the planned
steps spend at most the target; before every epoch the accountant checks the epoch still
fits, and the run stops early (``stopped = "privacy_budget"``), after the last step that
fits, if it does not (a resume with more epochs, or a fixed noise multiplier with a cap).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import keras
import numpy as np

from privface_core.errors import UserError
from training.engine import batchnorm, checkpoint, distributed
from training.engine.accounting import PrivacyAccountant, calibrate_noise
from training.engine.config import ConfigError, TrainConfig
from training.engine.data import LabelMap, holdout_split, open_source
from training.engine.dp_sgd import DPConfig
from training.engine.evaluation import Evaluator
from training.engine.export import export
from training.engine.heads import classification_loss, make_head
from training.engine.json_safe import json_safe
from training.engine.loop import classifier_trainer
from training.engine.model_card import RunFacts
from training.engine.model_card import build as build_model_card
from training.engine.models import build_backbone
from training.engine.optim import learning_rate, make_optimizer
from training.engine.pipeline import ImageFetcher
from training.engine.sampling import poisson_batches, shuffled_batches
from training.engine.tf_input import TrainingInput
from training.engine.verification import VerificationSet

BackboneFactory = Callable[[str, int, bool, int], keras.Model]  # (name, embedding_size, dp, input_size)
METRICS_FILE = "metrics.jsonl"
# Seed streams: one generator per purpose, so changing one use never shifts another.
_SPLIT, _BATCHES, _FLIPS, _EVAL, _AUDIT, _BN = range(6)


class Callbacks:
    """Progress hooks, called on the training thread; override what you need.

    ``on_step(step, total_steps, metrics)``: after each step; ``step`` counts completed
    steps (1-based), metrics hold ``loss``, ``batch_size``, ``clipped_fraction``, ``lr``, ``epoch``.
    ``on_epoch(epoch, metrics)``: after each epoch's checkpoint; ``epoch`` is 1-based.
    """

    def on_step(self, step: int, total_steps: int, metrics: dict[str, float]) -> None:
        pass

    def on_epoch(self, epoch: int, metrics: dict[str, Any]) -> None:
        pass


@dataclass
class TrainResult:
    output_dir: str
    export_dir: str
    steps: int
    total_steps: int  # planned
    epochs_completed: int
    stopped: str  # "completed" or "privacy_budget"
    epsilon: float | None  # None without DP; inf with DP and no noise
    delta: float | None
    noise_multiplier: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    verification: dict[str, Any] | None = None
    membership_inference: dict[str, Any] | None = None
    model_card: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


def train(
    config: TrainConfig,
    callbacks: Callbacks | None = None,
    cancel_check: Callable[[], None] | None = None,
    backbone_factory: BackboneFactory | None = None,
) -> TrainResult:
    """Run (or resume) training; ``cancel_check()`` runs before every step and cancels by raising.

    A cancelled run keeps the checkpoint of its last completed epoch. Bad settings raise
    ``ConfigError`` (a ``UserError`` naming the field); unreadable data raise ``DatasetError``.
    """
    config.validate()
    run = _Run(config, callbacks or Callbacks(), cancel_check, backbone_factory or build_backbone)
    try:
        return run.execute()
    finally:
        run.close()


class _Run:
    def __init__(self, config: TrainConfig, callbacks: Callbacks, cancel_check, backbone_factory) -> None:
        self.config, self.callbacks, self.cancel_check = config, callbacks, cancel_check
        self.out = Path(config.output_dir)
        self.warnings: list[str] = []
        saved = self._load_checkpoint()
        state = saved[1] if saved else None
        self.source = open_source(config.dataset_path, config.rec_file, config.idx_file)
        try:
            self._prepare_data(state)
            self._prepare_privacy(state)
            self.verification_set = VerificationSet(config.eval_bin, config.image_size) if config.eval_bin else None
            self._build(backbone_factory)
            self._restore(saved)
        except BaseException:
            self.close()
            raise

    # -- setup ----------------------------------------------------------------------------

    def _load_checkpoint(self):
        config = self.config
        if not config.resume:
            if checkpoint.path_in(self.out).exists():
                raise ConfigError(
                    "output_dir", f"{self.out} already holds a checkpoint: pass --resume, or choose another folder"
                )
            return None
        saved = checkpoint.load(self.out)
        if saved is None:
            raise ConfigError("resume", f"found no checkpoint in {self.out}")
        previous = saved[1]["config"]
        fixed = ("dataset_path", "rec_file", "idx_file", "image_size", "holdout_fraction", "model", "head",
                 "embedding_size", "batch_size", "optimizer", "use_dp", "l2_norm_clip", "accountant", "delta")
        for name in fixed:
            if previous.get(name) != getattr(config, name):
                raise ConfigError(name, f"differs from the checkpoint's ({previous.get(name)!r}): cannot resume")
        return saved

    def _prepare_data(self, state: dict | None) -> None:
        config = self.config
        self.seed = state["seed"] if state else (config.seed if config.seed is not None else secrets.randbits(63))
        self.labels_map = LabelMap(tuple(state["labels"])) if state else LabelMap.fit(self.source.raw_labels)
        try:
            self.labels = self.labels_map.encode(self.source.raw_labels)
        except ValueError as err:
            raise UserError(f"cannot resume: {err}") from None
        rng = np.random.default_rng([self.seed, _SPLIT])
        self.train_pos, self.held_pos = holdout_split(self.labels, config.holdout_fraction, rng)
        self.num_train = len(self.train_pos)
        if state and state["num_train"] != self.num_train:
            raise UserError(f"cannot resume: the dataset has changed ({self.num_train} training images, "
                            f"the checkpoint had {state['num_train']})")
        if config.batch_size > self.num_train:
            raise ConfigError("batch_size", f"must be at most the number of training images ({self.num_train})")
        size, threads = config.image_size, config.decode_threads or min(os.cpu_count() or 1, 8)
        self.train_images = ImageFetcher(self.source, self.train_pos, self.labels, size, threads)
        self.held_images = ImageFetcher(self.source, self.held_pos, self.labels, size, threads)
        eval_rng = np.random.default_rng([self.seed, _EVAL])
        self.eval_train = np.sort(eval_rng.permutation(self.num_train)[: config.train_eval_samples])
        self.eval_held = np.sort(eval_rng.permutation(len(self.held_pos))[: config.train_eval_samples])

    def _prepare_privacy(self, state: dict | None) -> None:
        config, n, b = self.config, self.num_train, self.config.batch_size
        self.dp = config.use_dp
        self.sample_rate = b / n
        # DP takes ceil(epochs*N/B) steps, the count the accountant assumes; without DP each
        # epoch is ceil(N/B) shuffled batches.
        self.epoch_ends = [math.ceil(e * n / b) if self.dp else e * math.ceil(n / b) for e in range(config.epochs + 1)]
        self.total_steps = self.epoch_ends[-1]
        self.noise = None
        if not self.dp:
            return
        if state:
            self.noise = state["noise_multiplier"]  # the run's noise stays what it was
            if config.noise_multiplier is not None and config.noise_multiplier != self.noise:
                raise ConfigError("noise_multiplier", f"differs from the checkpoint's ({self.noise}): cannot resume")
        elif config.noise_multiplier is not None:
            self.noise = config.noise_multiplier
        else:
            try:
                self.noise = calibrate_noise(
                    config.target_epsilon, n, b, config.epochs, config.delta, config.accountant
                )
            except ValueError as err:
                raise ConfigError("target_epsilon", str(err)) from None
        if config.delta >= 1 / n:
            self.warnings.append(f"delta {config.delta:g} is not below 1/N = {1 / n:.3g}: the guarantee is weak")

    def _build(self, backbone_factory: BackboneFactory) -> None:
        config = self.config
        distributed.allow_memory_growth()
        self.strategy = distributed.make_strategy(list(config.devices) or None)
        gpus = distributed.gpu_count()
        mixed = config.mixed_precision if config.mixed_precision is not None else gpus > 0
        if mixed and self.dp:
            mixed = False
            if config.mixed_precision:
                self.warnings.append("mixed precision is not used with DP-SGD (per-example rules run in float32)")
        self.mixed_precision = bool(mixed)
        if self.strategy is not None:
            self.devices = f"mirrored over {', '.join(self.strategy.extended.worker_devices)}"
        else:
            self.devices = f"{gpus} GPU(s)" if gpus else "CPU"
        if config.seed is not None:
            keras.utils.set_random_seed(config.seed)  # reproducible initial weights
        self.backbone_factory = backbone_factory
        with distributed.build_scope(self.strategy, self.mixed_precision):
            self.backbone = backbone_factory(config.model, config.embedding_size, self.dp, config.image_size)
            # Logits, margins and the loss stay float32 under mixed precision.
            self.head = make_head(config.head, len(self.labels_map), dtype="float32")
            self.head.build((None, int(self.backbone.output_shape[-1])))
            self.optimizer = make_optimizer(config)
        dp = DPConfig(config.l2_norm_clip, self.noise, config.batch_size) if self.dp else None
        if self.strategy is not None:
            variables = self.backbone.trainable_variables + self.head.trainable_variables
            loss_fn = classification_loss(self.backbone, self.head)
            self.trainer = distributed.MirroredTrainer(
                self.strategy, loss_fn, variables, self.optimizer, dp, config.seed
            )
        else:
            self.trainer = classifier_trainer(self.backbone, self.head, self.optimizer, dp, seed=config.seed)
        self.evaluator = Evaluator(self.backbone, self.head, config.eval_batch_size)

    def _state_variables(self) -> list:
        return list(self.backbone.weights) + list(self.head.weights) + list(self.optimizer.variables)

    def _restore(self, saved) -> None:
        self.accountant = PrivacyAccountant(self.config.accountant)
        self.epoch, self.step, self.history, self.stopped = 0, 0, [], None
        if saved is None:
            return
        arrays, state = saved
        variables = self._state_variables()
        shapes_match = len(arrays) == len(variables) + 1 and all(
            tuple(a.shape) == tuple(v.shape) for a, v in zip(arrays, variables, strict=False)
        )
        if not shapes_match:
            raise UserError(f"the checkpoint in {self.out} does not fit this model: cannot resume")
        for variable, array in zip(variables, arrays, strict=False):
            variable.assign(array)
        self.trainer.set_noise_state(arrays[-1])
        self.accountant.history = [tuple(entry) for entry in state["accountant_history"]]
        self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
        self.stopped = state["stopped"]

    def close(self) -> None:
        for name in ("train_images", "held_images"):
            if hasattr(self, name):
                getattr(self, name).close()
        self.source.close()

    # -- training -------------------------------------------------------------------------

    def execute(self) -> TrainResult:
        config = self.config
        while self.epoch < config.epochs and self.stopped is None:
            self._epoch()
        audit = self.evaluator.audit(self.train_images, self.held_images, np.random.default_rng([self.seed, _AUDIT]))
        card = build_model_card(self.config, self._facts(), audit, self.warnings)
        export_dir = export(self.out, self._backbone_for_export(), card)
        last = self.history[-1] if self.history else {}
        return TrainResult(
            output_dir=str(self.out),
            export_dir=str(export_dir),
            steps=self.step,
            total_steps=self.total_steps,
            epochs_completed=self.epoch,
            stopped=self.stopped or "completed",
            epsilon=self._epsilon(),
            delta=config.delta if self.dp else None,
            noise_multiplier=self.noise,
            history=self.history,
            verification=last.get("verification"),
            membership_inference=audit,
            model_card=card,
            warnings=self.warnings,
        )

    def _backbone_for_export(self) -> keras.Model:
        """The trained backbone; after mixed precision, a float32 copy (the weights were float32
        all along), so the registry's model computes and returns float32 embeddings."""
        if not self.mixed_precision:
            return self.backbone
        config = self.config
        with distributed.build_scope(None, False):
            copy = self.backbone_factory(config.model, config.embedding_size, self.dp, config.image_size)
        copy.set_weights([np.asarray(w) for w in self.backbone.get_weights()])
        return copy

    def _epsilon(self) -> float | None:
        return self.accountant.get_epsilon(self.config.delta) if self.dp else None

    def _steps_within_budget(self, wanted: int) -> int:
        """The most of the next ``wanted`` steps that keep epsilon within ``target_epsilon``."""
        target = self.config.target_epsilon
        if not self.dp or target is None:
            return wanted

        def epsilon_after(k: int) -> float:
            trial = PrivacyAccountant(self.config.accountant)
            trial.history = list(self.accountant.history)
            trial.step(self.noise, self.sample_rate, k)
            return trial.get_epsilon(self.config.delta)

        if epsilon_after(wanted) <= target:
            return wanted
        low, high = 0, wanted  # epsilon_after(low) <= target < epsilon_after(high)
        if epsilon_after(0) > target:
            return 0
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if epsilon_after(mid) <= target else (low, mid)
        return low

    def _batches(self, steps: int):
        rng = np.random.default_rng([self.seed, _BATCHES, self.epoch])
        if self.dp:
            return poisson_batches(self.num_train, self.sample_rate, steps, rng)
        return islice(shuffled_batches(self.num_train, self.config.batch_size, 1, rng), steps)

    def _epoch(self) -> None:
        config = self.config
        steps = self.epoch_ends[self.epoch + 1] - self.epoch_ends[self.epoch]
        allowed = self._steps_within_budget(steps)
        if allowed < steps:
            self.stopped = "privacy_budget"
            if allowed == 0:
                self._save()
                return
        flip_rng = np.random.default_rng([self.seed, _FLIPS, self.epoch]) if config.flip else None
        start, losses, sizes, clipped = time.monotonic(), [], [], []
        lr = config.lr
        batches = TrainingInput(
            self.source, self.train_pos, self.labels, config.image_size, self._batches(allowed),
            flip_rng, config.decode_threads, config.prefetch_batches,
        )
        for images, labels in batches:
            if self.cancel_check is not None:
                self.cancel_check()
            lr = learning_rate(config, self.step, self.total_steps, self.num_train / config.batch_size)
            self.optimizer.learning_rate = lr
            stats = self.trainer.train_step(images, labels)
            if self.dp:
                self.accountant.step(self.noise, self.sample_rate)
            self.step += 1
            if stats["batch_size"]:
                losses.append(stats["loss"] * stats["batch_size"])
                sizes.append(stats["batch_size"])
                clipped.append(stats["clipped_fraction"] * stats["batch_size"])
            self.callbacks.on_step(self.step, self.total_steps, {**stats, "lr": lr, "epoch": self.epoch + 1})
        seconds = time.monotonic() - start
        self.epoch += 1
        seen = sum(sizes)
        metrics: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.step,
            "epoch_steps": allowed,
            "loss": sum(losses) / seen if seen else None,
            "lr": lr,
            "seconds": round(seconds, 3),
            "images_per_s": round(seen / seconds, 2) if seconds > 0 else None,
        }
        if self.dp:
            metrics["clipped_fraction"] = sum(clipped) / seen if seen else None
        started = time.monotonic()
        self._recalibrate_batch_norm()
        metrics.update(self._evaluate())
        metrics["eval_seconds"] = round(time.monotonic() - started, 3)
        self.history.append(json_safe(metrics))
        self._save()
        self.callbacks.on_epoch(self.epoch, self.history[-1])

    # -- evaluation -----------------------------------------------------------------------

    def _recalibrate_batch_norm(self) -> None:
        """Precise BN statistics (see ``batchnorm``) over the ``eval_train`` images, shuffled into
        training-size batches; a no-op for GroupNorm (DP) models."""
        if not batchnorm.batch_norm_layers(self.backbone) or not len(self.eval_train):
            return
        order = np.random.default_rng([self.seed, _BN, self.epoch]).permutation(self.eval_train)
        size = self.config.batch_size
        chunks = (order[start : start + size] for start in range(0, len(order), size))
        with self.strategy.scope() if self.strategy is not None else nullcontext():
            batchnorm.recalibrate(self.backbone, (self.train_images(c)[0] for c in chunks))

    def _evaluate(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        if len(self.eval_train):
            metrics["train_accuracy"] = self.evaluator.accuracy(self.train_images, self.eval_train)
        if len(self.eval_held):
            metrics["holdout_accuracy"] = self.evaluator.accuracy(self.held_images, self.eval_held)
        if self.dp:
            metrics["epsilon"] = self._epsilon()
            metrics["delta"] = self.config.delta
        if self.verification_set is not None:
            result = self.verification_set.evaluate(self.evaluator.embed, self.config.eval_batch_size)
            metrics["verification_accuracy"] = result.accuracy
            metrics["verification"] = result.to_dict()
        return metrics

    # -- persistence ----------------------------------------------------------------------

    def _save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        arrays = [np.asarray(v.numpy()) for v in self._state_variables()] + [self.trainer.noise_state]
        state = {
            "epoch": self.epoch,
            "step": self.step,
            "seed": self.seed,
            "noise_multiplier": self.noise,
            "sample_rate": self.sample_rate,
            "accountant_history": [list(h) for h in self.accountant.history],
            "labels": list(self.labels_map.classes),
            "num_train": self.num_train,
            "stopped": self.stopped,
            "config": self.config.to_dict(),
            "history": self.history,
        }
        checkpoint.save(self.out, arrays, json_safe(state))
        lines = "".join(json.dumps(m) + "\n" for m in self.history)
        tmp = self.out / f".{METRICS_FILE}.tmp"
        tmp.write_text(lines, encoding="utf-8")
        tmp.replace(self.out / METRICS_FILE)
        (self.out / "labels.json").write_text(json.dumps({"classes": list(self.labels_map.classes)}), "utf-8")

    def _facts(self) -> RunFacts:
        return RunFacts(
            backbone=self.backbone.name,
            source=self.source.describe(),
            images=len(self.labels),
            identities=len(self.labels_map),
            train_images=self.num_train,
            holdout_images=len(self.held_pos),
            embedding_size=int(self.backbone.output_shape[-1]),
            backbone_parameters=int(sum(int(np.prod(v.shape)) for v in self.backbone.weights)),
            epochs_completed=self.epoch,
            steps=self.step,
            stopped=self.stopped or "completed",
            devices=self.devices,
            mixed_precision=self.mixed_precision,
            history=self.history,
            epsilon=self._epsilon(),
            noise_multiplier=self.noise,
            sample_rate=self.sample_rate,
        )
