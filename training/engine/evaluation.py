"""Inference-mode passes over training and held-out images: accuracy, per-example losses, the MIA audit."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.engine.mia import loss_threshold_audit
from training.engine.pipeline import ImageFetcher

AUDIT_SAMPLES = 5000  # per side; the audit is a forward pass over twice this many images


class Evaluator:
    """Compiled embedding and scoring functions for a backbone and its training head."""

    def __init__(self, backbone: keras.Model, head: keras.layers.Layer, batch_size: int) -> None:
        self.batch_size = batch_size

        def embed(images):
            return tf.cast(backbone(images, training=False), tf.float32)

        def scores(images, labels):
            embeddings = backbone(images, training=False)
            # The attack scores the training loss (with the margin); accuracy uses plain cosines.
            margined = tf.cast(head(embeddings, labels, training=False), tf.float32)
            plain = tf.cast(head(embeddings, training=False), tf.float32)
            labels = tf.cast(labels, tf.int32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=margined)
            return losses, tf.equal(tf.argmax(plain, axis=1, output_type=tf.int32), labels)

        self._embed = tf.function(embed, reduce_retracing=True)
        self._scores = tf.function(scores, reduce_retracing=True)

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self._embed(images).numpy()

    def scores(self, fetcher: ImageFetcher, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-example loss and whether the top class is right, for ``indices`` of ``fetcher``."""
        losses, correct = [np.zeros(0)], [np.zeros(0, bool)]
        for start in range(0, len(indices), self.batch_size):
            images, labels = fetcher(indices[start : start + self.batch_size])
            batch_losses, batch_correct = self._scores(images, labels)
            losses.append(batch_losses.numpy())
            correct.append(batch_correct.numpy())
        return np.concatenate(losses), np.concatenate(correct)

    def accuracy(self, fetcher: ImageFetcher, indices: np.ndarray) -> float | None:
        return float(np.mean(self.scores(fetcher, indices)[1])) if len(indices) else None

    def audit(self, members: ImageFetcher, nonmembers: ImageFetcher, rng: np.random.Generator) -> dict[str, Any] | None:
        """Loss-threshold MIA on equal numbers of trained-on and held-out images (same identities)."""
        n = min(len(members), len(nonmembers), AUDIT_SAMPLES)
        if n == 0:
            return None
        inside = np.sort(rng.permutation(len(members))[:n])
        outside = np.sort(rng.permutation(len(nonmembers))[:n])
        return loss_threshold_audit(self.scores(members, inside)[0], self.scores(nonmembers, outside)[0])
