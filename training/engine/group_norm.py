"""Group normalisation (Wu & He, 2018) with a hand-written gradient: DP's BatchNorm stand-in.

Statistics are per example and channel group, so no example's output depends on another's
and per-example clipping stays meaningful. TensorFlow has no fused GroupNorm kernel, so the
layer is written for the CPU's memory passes:

- statistics come from per-channel moments over the spatial axes of the (B, ..., C) tensor
  as it is, combined per group on (B, C)-sized tensors (the group variance is the mean of
  the channel variances plus the variance of the channel means). Reducing a (B, H, W, G,
  Cg) view over three non-adjacent axes instead was twice as slow at Cg = 2.
- the gradient is the closed form, rewritten in x so that the normalised input is never
  materialised (autodiff through ``tf.nn.moments`` keeps several full-size intermediates).
- while taps are recorded (DP-SGD), gamma and beta enter broadcast to one row per example,
  so the backward pass yields the per-example gradients that clipping needs, from the sums
  it computes anyway; a separate rule would pass over the activations twice more.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from training.engine.taps import recording, tap


def _group_norm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, groups: int, epsilon: float) -> tf.Tensor:
    """``x``: (B, *spatial, C); ``gamma``, ``beta``: (1, C) or per example (B, C)."""
    channels = int(x.shape[-1])
    per_group = channels // groups
    spatial = list(range(1, x.shape.rank - 1))
    count = math.prod(int(x.shape[a]) for a in spatial) * per_group
    per_channel = [-1] + [1] * len(spatial) + [channels]  # (B, 1.., C) broadcasts against x

    def grouped(t: tf.Tensor) -> tf.Tensor:  # (B, C) -> (B, G, Cg)
        return tf.reshape(t, (-1, groups, per_group))

    def to_channels(t: tf.Tensor) -> tf.Tensor:  # (B, G, 1) or (B, G, Cg) -> (B, 1.., C)
        return tf.reshape(t + tf.zeros((1, 1, per_group), t.dtype), per_channel)

    def like(per_example: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
        """A shared (1, C) weight gets the batch's sum; a per-example (B, C) one, each row."""
        return tf.reduce_sum(per_example, 0, keepdims=True) if weight.shape[0] == 1 else per_example

    def sum_spatial(t: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(t, axis=spatial) if spatial else t

    @tf.custom_gradient
    def forward(x, gamma, beta):
        if spatial:
            channel_mean, channel_var = (grouped(m) for m in tf.nn.moments(x, axes=spatial))
        else:
            channel_mean, channel_var = grouped(x), tf.zeros_like(grouped(x))
        mean = tf.reduce_mean(channel_mean, axis=-1, keepdims=True)  # (B, G, 1)
        variance = tf.reduce_mean(channel_var + tf.square(channel_mean - mean), axis=-1, keepdims=True)
        inv_std = tf.math.rsqrt(variance + epsilon)
        gamma_g, beta_g = grouped(gamma), grouped(beta)
        scale = inv_std * gamma_g  # (B, G, Cg)
        y = x * to_channels(scale) + to_channels(beta_g - mean * scale)

        def grad(dy):
            # With xh = (x - mean) * inv_std and dxh = dy * gamma:
            # dx = inv_std * (dxh - mean(dxh) - xh * mean(dxh * xh)), means over the group.
            sum_dy, sum_dy_x = grouped(sum_spatial(dy)), grouped(sum_spatial(dy * x))
            mean_dxh = tf.reduce_sum(sum_dy * gamma_g, axis=-1, keepdims=True) / count
            mean_dxh_xh = inv_std * (
                tf.reduce_sum(sum_dy_x * gamma_g, axis=-1, keepdims=True) / count - mean * mean_dxh
            )
            slope = -tf.square(inv_std) * mean_dxh_xh
            dx = dy * to_channels(scale) + (x * to_channels(slope) + to_channels(-mean * slope - inv_std * mean_dxh))
            # Per example: d gamma = sum over positions of dy * xh, d beta = sum of dy.
            dgamma = tf.reshape(inv_std * (sum_dy_x - mean * sum_dy), (-1, channels))
            dbeta = tf.reshape(sum_dy, (-1, channels))
            return dx, like(dgamma, gamma), like(dbeta, beta)

        return y, grad

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package="privface")
class GroupNorm(keras.layers.Layer):
    """Group normalisation over the last (channel) axis, any rank (B, ..., C).

    ``groups`` is reduced to ``gcd(groups, channels)`` so any width works. While taps are
    recorded, the tap's inputs are the layer's weights and its output their per-example
    copies (B, C), whose gradient is the per-example weight gradient.
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
        channels = (1, int(inputs.shape[-1]))
        per_example = recording()
        weights, copies = [], []

        def weight(variable, default):
            if variable is None:
                return default(channels, inputs.dtype)
            value = tf.reshape(variable, channels)
            if per_example:
                value = tf.broadcast_to(value, (tf.shape(inputs)[0], channels[1]))
                weights.append(variable)
                copies.append(value)
            return value

        gamma, beta = weight(self.gamma, tf.ones), weight(self.beta, tf.zeros)
        outputs = _group_norm(inputs, gamma, beta, self.effective_groups, self.epsilon)
        if weights:
            tap(self, weights, copies)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(groups=self.groups, epsilon=self.epsilon, center=self.center, scale=self.scale)
        return config
