"""The centralized training loop: batches, steps and the privacy spent, DP or not.

DP runs take ``ceil(epochs * N / B)`` Poisson-sampled steps (the count the accountant and
``run.py privacy`` use); non-DP runs take shuffled epochs. Data come through
``fetch(indices) -> (images, labels)`` so arrays, RecordIO files or anything else can feed it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np

from training.engine.accounting import PrivacyAccountant
from training.engine.dp_sgd import DPConfig, Trainer
from training.engine.heads import classification_loss
from training.engine.sampling import poisson_batches, shuffled_batches

Fetch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
OnStep = Callable[[int, dict[str, float]], None]


def array_fetch(images: np.ndarray, labels: np.ndarray) -> Fetch:
    """``fetch`` over in-memory arrays."""

    def fetch(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return images[indices], labels[indices]

    return fetch


def classifier_trainer(
    backbone: keras.Model,
    head: keras.layers.Layer,
    optimizer: keras.optimizers.Optimizer,
    dp: DPConfig | None = None,
    seed: int | None = None,
) -> Trainer:
    """A ``Trainer`` for softmax cross-entropy over ``head(backbone(images), labels)``."""
    variables = backbone.trainable_variables + head.trainable_variables
    return Trainer(classification_loss(backbone, head), variables, optimizer, dp=dp, seed=seed)


@dataclass
class FitResult:
    steps: int
    epsilon: float | None  # None for non-DP training
    delta: float | None
    history: list[dict[str, float]] = field(default_factory=list)


def fit(
    trainer: Trainer,
    fetch: Fetch,
    num_examples: int,
    batch_size: int,
    epochs: float,
    delta: float | None = None,
    accountant: str = "rdp",
    seed: int | None = None,
    on_step: OnStep | None = None,
) -> FitResult:
    """Train for ``epochs``; with DP, also account for every step (including empty batches)."""
    rng = np.random.default_rng(seed)
    dp = trainer.dp
    if dp is None:
        batches = shuffled_batches(num_examples, batch_size, math.ceil(epochs), rng)
        privacy = None
    else:
        if delta is None:
            raise ValueError("DP training needs delta to report epsilon")
        if not math.isclose(dp.expected_batch_size, batch_size):
            raise ValueError(f"DPConfig.expected_batch_size {dp.expected_batch_size} != batch_size {batch_size}")
        sample_rate = batch_size / num_examples
        batches = poisson_batches(num_examples, sample_rate, math.ceil(epochs * num_examples / batch_size), rng)
        privacy = PrivacyAccountant(accountant)
    history = []
    for step, indices in enumerate(batches):
        stats = trainer.train_step(*fetch(indices))
        if privacy is not None:
            privacy.step(dp.noise_multiplier, sample_rate)
        history.append(stats)
        if on_step is not None:
            on_step(step, stats)
    epsilon = privacy.get_epsilon(delta) if privacy is not None else None
    return FitResult(steps=len(history), epsilon=epsilon, delta=delta if privacy else None, history=history)
