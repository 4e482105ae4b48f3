"""Optimizers and the learning-rate schedule, set per step from the global step count.

The schedule is a plain function of the step rather than a Keras schedule object, so that a
resumed run, which restores the step count, continues on the same curve.
"""

from __future__ import annotations

import math

import keras

from training.engine.config import TrainConfig


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """SGD with momentum or Adam (beta_1 = ``momentum``), decoupled weight decay."""
    decay = config.weight_decay or None
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.lr, beta_1=config.momentum, weight_decay=decay)
    return keras.optimizers.SGD(config.lr, momentum=config.momentum, weight_decay=decay)


def learning_rate(config: TrainConfig, step: int, total_steps: int, steps_per_epoch: float) -> float:
    """LR for the step that starts after ``step`` completed steps: linear warmup, then the schedule."""
    warmup = config.warmup_epochs * steps_per_epoch
    if warmup and step < warmup:
        return config.lr * (step + 1) / warmup
    if config.lr_schedule == "cosine":
        span = max(total_steps - warmup, 1)
        return config.lr * 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))
    if config.lr_schedule == "step":
        epoch = step / steps_per_epoch
        return config.lr * 0.1 ** sum(1 for boundary in config.lr_steps if epoch >= boundary)
    return config.lr
