"""What one client computes: the face model, its weights as arrays, local training and evaluation.

The pieces are centralized training's (``training.engine``): backbones, ArcFace/CosFace/softmax
heads, DP-SGD with Poisson sampling, the optimizers, the tf.data input and the MIA audit.
Federated backbones always use GroupNorm (the ``dp=True`` architecture): BatchNorm's running
statistics do not average well across clients with different data (Hsieh et al., 2020, "The
Non-IID Data Quagmire"), and DP-SGD needs GroupNorm anyway, so every federated model has one
architecture whatever its privacy level.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np

from training.engine.dp_sgd import DPConfig
from training.engine.evaluation import Evaluator
from training.engine.heads import make_head
from training.engine.loop import classifier_trainer
from training.engine.mia import loss_threshold_audit
from training.engine.models import build_backbone
from training.engine.optim import make_optimizer
from training.engine.pipeline import ImageFetcher
from training.engine.sampling import poisson_batches, shuffled_batches
from training.engine.tf_input import TrainingInput

from .plan import ClientData
from .privacy import client_sample_rate, local_steps

BACKBONE_PREFIX = "backbone/"
HEAD_PREFIX = "head/"
EVAL_SAMPLES = 512  # training images re-scored after local training for the round's accuracy


def backbone(settings: dict[str, Any]) -> keras.Model:
    return build_backbone(settings["model"], settings["embedding_size"], True, settings["image_size"])


def named_weights(prefix: str, layer_or_model) -> dict[str, np.ndarray]:
    """Weights keyed by position (Keras' variable paths carry per-process layer counters, so
    two builds of one model name them differently); ``assign`` checks the shapes."""
    return {f"{prefix}{i:03d}": np.asarray(w.numpy()) for i, w in enumerate(layer_or_model.weights)}


def assign(prefix: str, layer_or_model, arrays: dict[str, np.ndarray]) -> None:
    for i, weight in enumerate(layer_or_model.weights):
        value = arrays.get(f"{prefix}{i:03d}")
        if value is None or tuple(value.shape) != tuple(weight.shape):
            got = "nothing" if value is None else f"shape {tuple(value.shape)}"
            raise ValueError(f"the global model does not fit this client's model: weight {i} ({weight.path},"
                             f" {tuple(weight.shape)}) got {got}")
        weight.assign(value)


class LocalModel:
    """Backbone + head + optimizer + compiled DP-SGD (or plain) step, built once per process.

    Compiling a DP step of MobileFaceNet takes half a minute, so a simulation process serves
    every client it is given with one model: ``attach(data)`` switches the images, ``load``
    the weights (the global backbone, the client's own head). Every client's head has
    ``num_classes`` rows (in simulation the most identities any client holds; rows past a
    client's own identities are never a target, only extra negatives).
    """

    def __init__(self, settings: dict[str, Any], num_classes: int, seed: int | None) -> None:
        self.settings = settings
        self.dp = settings["dp_level"] == "sample"
        self.backbone = backbone(settings)
        self.head = make_head(settings["head_type"], num_classes, dtype="float32")
        self.head.build((None, int(self.backbone.output_shape[-1])))
        self.initial_head = named_weights(HEAD_PREFIX, self.head)
        self.optimizer = make_optimizer(SimpleNamespace(**{k: settings[k] for k in
                                                           ("optimizer", "lr", "momentum", "weight_decay")}))
        self.batch_size = settings["batch_size"]
        # The noise is divided by the expected batch size, fixed when the step compiles: every
        # client uses the same B (it must hold at least B training images).
        dp = DPConfig(settings["l2_norm_clip"], settings["noise"], self.batch_size) if self.dp else None
        self.trainer = classifier_trainer(self.backbone, self.head, self.optimizer, dp, seed=seed)
        self.evaluator = Evaluator(self.backbone, self.head, 128)
        self.data: ClientData | None = None
        self.train_images = self.held_images = None

    def attach(self, data: ClientData) -> None:
        if data is self.data:
            return
        if data.num_train < self.batch_size:
            raise ValueError(f"this client has {data.num_train} training images, fewer than --batch_size"
                             f" {self.batch_size}")
        self.close()
        size = self.settings["image_size"]
        self.data = data
        self.train_images = ImageFetcher(data.source, data.train, data.labels, size, 2)
        self.held_images = ImageFetcher(data.source, data.held, data.labels, size, 2)

    # Weights in and out -----------------------------------------------------------------

    def backbone_arrays(self) -> dict[str, np.ndarray]:
        return named_weights(BACKBONE_PREFIX, self.backbone)

    def head_arrays(self) -> dict[str, np.ndarray]:
        return named_weights(HEAD_PREFIX, self.head)

    def load(self, arrays: dict[str, np.ndarray]) -> None:
        assign(BACKBONE_PREFIX, self.backbone, arrays)
        if any(k.startswith(HEAD_PREFIX) for k in arrays):
            assign(HEAD_PREFIX, self.head, arrays)

    def _reset_optimizer(self) -> None:
        # FedAvg's local SGD starts every round afresh: momentum from the last round's local
        # model would push the new global model in a stale direction.
        # The step count goes back to 0 too (Adam's bias correction restarts); the learning
        # rate, also one of the optimizer's variables, is set again after.
        for variable in self.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        self.optimizer.learning_rate = self.settings["lr"]

    # Training ---------------------------------------------------------------------------

    def fit(self, epochs: int, rng: np.random.Generator, cancel=None) -> dict[str, float]:
        """Local epochs of DP-SGD (Poisson batches, ceil(E*n/B) steps) or plain shuffled SGD."""
        self._reset_optimizer()
        assert self.data is not None
        n, b = self.data.num_train, self.batch_size
        if self.dp:
            steps = local_steps(n, b, epochs)
            batches = poisson_batches(n, client_sample_rate(n, b), steps, rng)
        else:
            batches = shuffled_batches(n, b, epochs, rng)
        flip_rng = np.random.default_rng(rng.integers(2**63)) if self.settings.get("flip", True) else None
        stream = TrainingInput(self.data.source, self.data.train, self.data.labels, self.settings["image_size"],
                               batches, flip_rng, 0, 2)
        started, losses, sizes, clipped, taken = time.monotonic(), 0.0, 0, 0.0, 0
        for images, labels in stream:
            stats = self.trainer.train_step(images, labels)
            taken += 1
            if stats["batch_size"]:
                losses += stats["loss"] * stats["batch_size"]
                sizes += stats["batch_size"]
                clipped += stats["clipped_fraction"] * stats["batch_size"]
        eval_idx = np.arange(min(n, EVAL_SAMPLES))
        accuracy = self.evaluator.accuracy(self.train_images, eval_idx) if n else None
        return {"loss": losses / sizes if sizes else float("nan"), "accuracy": accuracy or 0.0,
                "steps": taken, "seconds": time.monotonic() - started,
                "clipped_fraction": clipped / sizes if sizes else 0.0}

    # Evaluation -------------------------------------------------------------------------

    def evaluate(self, audit: bool) -> dict[str, float]:
        """Held-out accuracy and loss of the current (global) backbone with this client's head;
        with ``audit``, the loss-threshold membership attack AUC on this client's data."""
        held = np.arange(len(self.data.held))
        result: dict[str, float] = {}
        if len(held):
            losses, correct = self.evaluator.scores(self.held_images, held)
            result.update(held_loss=float(np.mean(losses)), held_accuracy=float(np.mean(correct)))
        if audit and len(held):
            k = min(len(held), self.data.num_train)
            members = np.random.default_rng(5).permutation(self.data.num_train)[:k]
            inside = self.evaluator.scores(self.train_images, np.sort(members))[0]
            outside = self.evaluator.scores(self.held_images, held[:k])[0]
            result["mia_auc"] = float(loss_threshold_audit(inside, outside)["auc"])
        return result

    def close(self) -> None:
        for fetcher in (self.train_images, self.held_images):
            if fetcher is not None:
                fetcher.close()
