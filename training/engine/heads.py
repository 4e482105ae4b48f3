"""Classification heads for face-recognition training: ArcFace, CosFace and plain softmax.

A head maps embeddings (and, during training, labels) to logits. The margin heads share
``CosineDense`` (cosines to L2-normalised class centres); the margin itself has no weights,
so DP-SGD only needs the cosine layer's per-example rule. At inference time (no labels) a
margin head returns ``scale * cos``.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from training.engine import dp_layers

HEADS = ("arcface", "cosface", "softmax")


class _MarginHead(keras.layers.Layer):
    def __init__(self, num_classes: int, scale: float, margin: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.scale, self.margin = num_classes, scale, margin
        # Sublayers take the head's dtype, not the global policy: under mixed precision the
        # head stays float32 (margins and logits in bfloat16 would be too coarse).
        self.cosine = dp_layers.CosineDense(num_classes, name="cosine", dtype=self.dtype_policy)

    def build(self, input_shape) -> None:
        self.cosine.build(input_shape)

    def call(self, embeddings, labels=None):
        cosine = self.cosine(embeddings)
        if labels is None:
            return self.scale * cosine
        labels = tf.cast(tf.reshape(labels, (-1,)), tf.int32)
        target = tf.gather(cosine, labels, axis=1, batch_dims=1)
        # Only the target class's logit changes: add (margined - plain) at that column.
        delta = self._margined(target) - target
        return self.scale * (cosine + tf.one_hot(labels, self.num_classes, dtype=cosine.dtype) * delta[:, None])

    def _margined(self, target: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_classes=self.num_classes, scale=self.scale, margin=self.margin)
        return config


@keras.saving.register_keras_serializable(package="privface")
class ArcFace(_MarginHead):
    """Additive angular margin: the target logit is s * cos(theta + m) (Deng et al., 2019)."""

    def __init__(self, num_classes: int, scale: float = 64.0, margin: float = 0.5, **kwargs) -> None:
        super().__init__(num_classes, scale, margin, **kwargs)

    def _margined(self, target: tf.Tensor) -> tf.Tensor:
        # The floor keeps sqrt's gradient finite when cos is +-1.
        sine = tf.sqrt(tf.clip_by_value(1.0 - tf.square(target), 1e-7, 1.0))
        with_margin = target * math.cos(self.margin) - sine * math.sin(self.margin)
        # Past theta = pi - m, cos(theta + m) would grow again; insightface's linear fallback.
        threshold = math.cos(math.pi - self.margin)
        fallback = target - math.sin(math.pi - self.margin) * self.margin
        return tf.where(target > threshold, with_margin, fallback)


@keras.saving.register_keras_serializable(package="privface")
class CosFace(_MarginHead):
    """Additive cosine margin: the target logit is s * (cos(theta) - m) (Wang et al., 2018)."""

    def __init__(self, num_classes: int, scale: float = 64.0, margin: float = 0.35, **kwargs) -> None:
        super().__init__(num_classes, scale, margin, **kwargs)

    def _margined(self, target: tf.Tensor) -> tf.Tensor:
        return target - self.margin


@keras.saving.register_keras_serializable(package="privface")
class SoftmaxHead(keras.layers.Layer):
    """A plain dense layer with bias; labels are ignored."""

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dense = dp_layers.Dense(num_classes, name="logits", dtype=self.dtype_policy)

    def build(self, input_shape) -> None:
        self.dense.build(input_shape)

    def call(self, embeddings, labels=None):
        return self.dense(embeddings)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config


def make_head(name: str, num_classes: int, **kwargs) -> keras.layers.Layer:
    """``arcface`` (s=64, m=0.5), ``cosface`` (s=64, m=0.35) or ``softmax``."""
    heads = {"arcface": ArcFace, "cosface": CosFace, "softmax": SoftmaxHead}
    if name not in heads:
        raise ValueError(f"head must be one of {', '.join(HEADS)}, got {name!r}")
    return heads[name](num_classes, **kwargs)


def classification_loss(backbone: keras.Model, head: keras.layers.Layer):
    """Per-example softmax cross-entropy of ``head(backbone(images), labels)``."""

    def loss_fn(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        logits = head(backbone(images, training=True), labels, training=True)
        labels = tf.cast(tf.reshape(labels, (-1,)), tf.int32)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)

    return loss_fn
