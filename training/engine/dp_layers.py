"""Keras layers that DP-SGD can clip per example without per-example weight copies.

Each layer behaves exactly like its Keras namesake (or, for ``GroupNorm`` (own module) and
``CosineDense``, like the usual definition) and, while ``taps.record_taps()`` is active,
notes the tensors its weight gradient is built from. ``per_example`` holds the matching
norm and clipped-sum rules. Activations are separate layers so that every noted output is
linear in the layer's weights.

No BatchNorm here on purpose: batch statistics mix examples, so one example's gradient
would depend on the others and per-example clipping would bound nothing.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from training.engine.group_norm import GroupNorm
from training.engine.taps import recording, tap

__all__ = ["Conv2D", "CosineDense", "Dense", "DepthwiseConv2D", "GroupNorm", "PReLU"]

_PACKAGE = "privface"


def _no_activation(kwargs: dict) -> None:
    if kwargs.get("activation") not in (None, "linear"):
        raise ValueError("tapped layers take no activation: add it as its own layer")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Conv2D(keras.layers.Conv2D):
    def __init__(self, *args, **kwargs) -> None:
        _no_activation(kwargs)
        super().__init__(*args, **kwargs)
        if self.groups != 1 or tuple(self.dilation_rate) != (1, 1) or self.data_format != "channels_last":
            raise ValueError("tapped Conv2D supports groups=1, dilation 1 and channels_last only")

    def call(self, inputs):
        outputs = super().call(inputs)
        tap(self, inputs, outputs)
        return outputs


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
    def __init__(self, *args, **kwargs) -> None:
        _no_activation(kwargs)
        super().__init__(*args, **kwargs)
        if self.depth_multiplier != 1 or tuple(self.dilation_rate) != (1, 1) or self.data_format != "channels_last":
            raise ValueError("tapped DepthwiseConv2D supports depth_multiplier=1, dilation 1, channels_last only")

    def call(self, inputs):
        outputs = super().call(inputs)
        tap(self, inputs, outputs)
        return outputs


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Dense(keras.layers.Dense):
    def __init__(self, *args, **kwargs) -> None:
        _no_activation(kwargs)
        super().__init__(*args, **kwargs)

    def call(self, inputs, training=None):
        outputs = super().call(inputs, training=training)
        tap(self, inputs, outputs)
        return outputs


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PReLU(keras.layers.PReLU):
    """While taps are recorded, alpha enters broadcast to one copy per example (the tap's
    output), so the backward pass itself sums each example's alpha gradient."""

    def call(self, inputs):
        if not recording():
            return super().call(inputs)
        alpha = tf.convert_to_tensor(self.alpha)
        per_example = tf.broadcast_to(alpha, tf.concat([tf.shape(inputs)[:1], tf.shape(alpha)], 0))
        tap(self, [self.alpha], [per_example])
        # Keras' own formula, with the per-example alpha.
        return tf.nn.relu(inputs) - per_example * tf.nn.relu(-inputs)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CosineDense(keras.layers.Layer):
    """cos(x, w_j) for every class j: the shared core of ArcFace and CosFace heads.

    Both sides are L2-normalised inside the graph; the trainable weight is the raw ``kernel``
    (``dim x units``). ``per_example`` clips its exact per-example gradient through the column
    normalisation, not the gradient with respect to the normalised weights.
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight(
            shape=(int(input_shape[-1]), self.units), name="kernel", initializer="glorot_normal"
        )

    def call(self, inputs):
        normalized = tf.math.l2_normalize(inputs, axis=-1)
        cosine = tf.matmul(normalized, tf.math.l2_normalize(self.kernel, axis=0))
        tap(self, normalized, cosine)
        return cosine

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units)
        return config
