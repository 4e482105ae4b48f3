"""Group normalisation (Wu & He, 2018) with a hand-written gradient: DP's BatchNorm stand-in.

Statistics are per example and channel group, so no example's output depends on another's
and per-example clipping stays meaningful. TensorFlow has no fused GroupNorm kernel; plain
autodiff through ``tf.nn.moments`` keeps several full-size intermediates and runs about
twice the memory passes of this closed form, which made GroupNorm the slowest part of a
MobileFaceNet step on CPU.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from training.engine.taps import tap


def _group_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float):
    """``x``: (B, *spatial, G, Cg); ``gamma``, ``beta``: (G, Cg). Returns (y, mean, 1/std).

    mean and 1/std, shaped (B, 1.., G, 1), are for the per-example rule; their upstream
    gradients are ignored because nothing differentiates through them.
    """
    rank = x.shape.rank
    spatial = list(range(1, rank - 2))
    axes = [*spatial, rank - 1]
    count = math.prod(int(x.shape[a]) for a in axes)

    def sum_spatial(t: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(t, axis=spatial, keepdims=True) if spatial else t

    @tf.custom_gradient
    def forward(x, gamma, beta):
        mean, variance = tf.nn.moments(x, axes=axes, keepdims=True)
        inv_std = tf.math.rsqrt(variance + epsilon)
        scale = inv_std * gamma
        y = x * scale + (beta - mean * scale)

        def grad(dy, *_unused):
            # With xh = (x - mean) * inv_std and dxh = dy * gamma:
            # dx = inv_std * (dxh - mean(dxh) - xh * mean(dxh * xh)), means over the group,
            # rewritten in x so that xh is never materialised.
            sum_dy, sum_dy_x = sum_spatial(dy), sum_spatial(dy * x)
            mean_dxh = tf.reduce_sum(sum_dy * gamma, axis=-1, keepdims=True) / count
            mean_dxh_xh = inv_std * (tf.reduce_sum(sum_dy_x * gamma, axis=-1, keepdims=True) / count - mean * mean_dxh)
            slope = -tf.square(inv_std) * mean_dxh_xh
            dx = dy * scale + (x * slope + (-mean * slope - inv_std * mean_dxh))
            batch_axes = [0, *spatial]
            dgamma = tf.reduce_sum(inv_std * (sum_dy_x - mean * sum_dy), axis=batch_axes)
            dbeta = tf.reduce_sum(sum_dy, axis=batch_axes)
            return dx, dgamma, dbeta

        return (y, mean, inv_std), grad

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package="privface")
class GroupNorm(keras.layers.Layer):
    """Group normalisation over the last (channel) axis, any rank (B, ..., C).

    ``groups`` is reduced to ``gcd(groups, channels)`` so any width works. While taps are
    recorded it notes (grouped input, mean, 1/std): per-example gamma gradients follow from
    those and the output gradient without a normalised copy of the input.
    """

    def __init__(self, groups: int = 32, epsilon: float = 1e-5, center: bool = True, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.groups, self.epsilon, self.center, self.scale = groups, epsilon, center, scale

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        self.effective_groups = math.gcd(self.groups, channels)
        self.gamma = self.add_weight(shape=(channels,), name="gamma", initializer="ones") if self.scale else None
        self.beta = self.add_weight(shape=(channels,), name="beta", initializer="zeros") if self.center else None

    def call(self, inputs):
        shape = tuple(int(d) for d in inputs.shape[1:])
        groups = (self.effective_groups, shape[-1] // self.effective_groups)
        grouped = tf.reshape(inputs, (-1, *shape[:-1], *groups))
        gamma = tf.ones(groups, inputs.dtype) if self.gamma is None else tf.reshape(self.gamma, groups)
        beta = tf.zeros(groups, inputs.dtype) if self.beta is None else tf.reshape(self.beta, groups)
        y, mean, inv_std = _group_norm(grouped, gamma, beta, self.epsilon)
        outputs = tf.reshape(y, (-1, *shape))
        if self.gamma is not None or self.beta is not None:
            tap(self, (grouped, mean, inv_std), outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(groups=self.groups, epsilon=self.epsilon, center=self.center, scale=self.scale)
        return config
