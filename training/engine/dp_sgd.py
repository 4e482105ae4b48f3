"""DP-SGD gradient steps (and the same step without DP) for a backbone plus a head.

A DP step, as the accountant assumes it (Abadi et al. 2016, with Poisson sampling):
  1. the batch is a Poisson sample (``sampling.poisson_batches``), so its size varies;
  2. each example's gradient over all weights is clipped to L2 norm ``l2_norm_clip``;
  3. the clipped gradients are summed and Gaussian noise with std
     ``noise_multiplier * l2_norm_clip`` is added once to the sum;
  4. the sum is divided by the *expected* batch size q*N. Dividing by the realised size
     would make the scale of the update depend on whether a given example was sampled.

Per-example norms come from one forward and one backward pass to the layers' outputs
(``per_example``); no per-example copy of the classification head is ever made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from training.engine.per_example import rule_for
from training.engine.taps import record_taps

LossFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]  # (images, labels) -> per-example losses (B,)


@dataclass(frozen=True)
class DPConfig:
    l2_norm_clip: float
    noise_multiplier: float
    expected_batch_size: float  # q * N

    def __post_init__(self) -> None:
        if not self.l2_norm_clip > 0:
            raise ValueError(f"l2_norm_clip must be > 0, got {self.l2_norm_clip}")
        if not self.noise_multiplier >= 0:
            raise ValueError(f"noise_multiplier must be >= 0, got {self.noise_multiplier}")
        if not self.expected_batch_size > 0:
            raise ValueError(f"expected_batch_size must be > 0, got {self.expected_batch_size}")


def clipped_gradient_sum(
    loss_fn: LossFn, variables: list, images: tf.Tensor, labels: tf.Tensor, l2_norm_clip: float
) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
    """``sum_i clip(grad_i)`` for ``variables``, the per-example losses and gradient norms.

    ``loss_fn`` must run only tapped layers (``dp_layers``) that hold trainable weights,
    each called once; anything else raises rather than train a weight without clipping.
    """
    with record_taps() as taps, tf.GradientTape() as tape:
        losses = loss_fn(images, labels)
        total = tf.reduce_sum(losses)
    _check_coverage(taps, variables)
    output_grads = tape.gradient(total, [t.output for t in taps], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    results = [rule_for(t.layer)(t, g) for t, g in zip(taps, output_grads, strict=True)]
    norms = tf.sqrt(tf.add_n([sq for sq, _ in results]))
    # c_i = min(1, C / ||g_i||), written so that a zero gradient gives 1, not NaN.
    factors = l2_norm_clip / tf.maximum(norms, l2_norm_clip)
    by_variable = {}
    for _, clipped in results:
        for variable, grad in clipped(factors):
            by_variable[id(variable)] = grad
    return [by_variable[id(v)] for v in variables], losses, norms


def _check_coverage(taps: list, variables: list) -> None:
    seen: dict[int, str] = {}
    for t in taps:
        if id(t.layer) in seen:
            raise NotImplementedError(f"layer {t.layer.name} is called twice: shared weights are not supported")
        seen[id(t.layer)] = t.layer.name
    tapped = {id(w) for t in taps for w in t.layer.trainable_weights}
    missing = [v.path if hasattr(v, "path") else v.name for v in variables if id(v) not in tapped]
    if missing:
        raise ValueError(
            f"these weights are not in tapped layers, so they cannot be clipped per example: {missing}"
            " (build models from training.engine.dp_layers, with dp=True: BatchNorm mixes examples)"
        )


class Trainer:
    """One optimizer step at a time, with DP-SGD when ``dp`` is given, plain SGD-style otherwise.

    ``loss_fn(images, labels)`` returns per-example losses. Steps are compiled once with a
    dynamic batch dimension, since Poisson batches change size every step; ``dp`` is read
    when the first step compiles, so set a new Trainer rather than change it afterwards.
    """

    def __init__(
        self,
        loss_fn: LossFn,
        variables: list,
        optimizer: keras.optimizers.Optimizer,
        dp: DPConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.loss_fn, self.variables, self.optimizer, self.dp = loss_fn, list(variables), optimizer, dp
        # Philox noise, as tensorflow-privacy uses; not a CSPRNG (see docs/dp-sgd.md).
        if seed is None:
            self._noise = tf.random.Generator.from_non_deterministic_state()
        else:
            self._noise = tf.random.Generator.from_seed(seed)
        # Slots exist before the first compiled step, so tracing creates no variables.
        optimizer.build(self.variables)
        self._gradients_fn = tf.function(self._gradients, reduce_retracing=True, autograph=False)
        self._noise_only_fn = tf.function(self._noise_only, autograph=False)
        self._apply_fn = tf.function(self._apply, autograph=False)

    @property
    def noise_state(self) -> np.ndarray:
        """The noise generator's state, for checkpoints (as secret as the data: see docs)."""
        return self._noise.state.numpy()

    def set_noise_state(self, state: np.ndarray) -> None:
        self._noise.state.assign(state)

    def _gradients(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
        if self.dp is None:
            with tf.GradientTape() as tape:
                losses = self.loss_fn(images, labels)
                mean = tf.reduce_mean(losses)
            return tape.gradient(mean, self.variables), losses, tf.zeros_like(losses)
        sums, losses, norms = clipped_gradient_sum(self.loss_fn, self.variables, images, labels, self.dp.l2_norm_clip)
        return [self._privatize(s) for s in sums], losses, norms

    def _privatize(self, clipped_sum: tf.Tensor) -> tf.Tensor:
        assert self.dp is not None
        std = self.dp.noise_multiplier * self.dp.l2_norm_clip
        noisy = clipped_sum + self._noise.normal(tf.shape(clipped_sum), stddev=std, dtype=clipped_sum.dtype)
        return noisy / self.dp.expected_batch_size

    def _noise_only(self) -> list[tf.Tensor]:
        return [self._privatize(tf.zeros_like(v)) for v in self.variables]

    def _apply(self, grads: list[tf.Tensor]) -> None:
        self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))

    def gradients(self, images, labels) -> list[tf.Tensor]:
        """The update direction: noisy clipped mean (DP) or mean gradient, for one batch."""
        if len(images) == 0:
            if self.dp is None:
                return [tf.zeros_like(v) for v in self.variables]
            # An empty Poisson batch is still a DP step: the noise alone is released.
            return self._noise_only_fn()
        return self._gradients_fn(tf.convert_to_tensor(images), tf.convert_to_tensor(labels))[0]

    def train_step(self, images, labels) -> dict[str, float]:
        """One optimizer step; returns the batch's mean loss, size and fraction of clipped examples."""
        if len(images) == 0:
            if self.dp is not None:  # without DP an empty batch is simply no step
                self._apply_fn(self.gradients(images, labels))
            return {"loss": float("nan"), "batch_size": 0, "clipped_fraction": 0.0}
        grads, losses, norms = self._gradients_fn(tf.convert_to_tensor(images), tf.convert_to_tensor(labels))
        self._apply_fn(grads)
        clipped = float(np.mean(norms.numpy() > self.dp.l2_norm_clip)) if self.dp else 0.0
        return {"loss": float(np.mean(losses.numpy())), "batch_size": int(len(images)), "clipped_fraction": clipped}
