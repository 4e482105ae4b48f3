"""GroupNorm's hand-written gradient against autodiff of the textbook definition."""

import numpy as np
import pytest
import tensorflow as tf

from training.engine.group_norm import GroupNorm
from training.engine.taps import record_taps


def reference(x: tf.Tensor, groups: int, gamma: tf.Tensor, beta: tf.Tensor, eps: float = 1e-5) -> tf.Tensor:
    shape = x.shape
    grouped = tf.reshape(x, (-1, *shape[1:-1], groups, shape[-1] // groups))
    axes = list(range(1, len(shape) - 1)) + [len(shape)]
    mean, var = tf.nn.moments(grouped, axes=axes, keepdims=True)
    normalized = tf.reshape((grouped - mean) / tf.sqrt(var + eps), (-1, *shape[1:]))
    return normalized * gamma + beta


@pytest.mark.parametrize("shape,groups", [((3, 5, 4, 12), 4), ((4, 12), 3), ((2, 3, 3, 6), 32)])
def test_forward_and_gradients_match_autodiff(shape, groups):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, size=shape))  # float64: exact comparison
    layer = GroupNorm(groups, dtype="float64")
    layer.build(x.shape)
    layer.gamma.assign(rng.normal(size=shape[-1]))
    layer.beta.assign(rng.normal(size=shape[-1]))
    weights = tf.constant(rng.normal(size=shape))  # a non-trivial upstream gradient
    effective = layer.effective_groups
    results = []
    for fn in (lambda: layer(x), lambda: reference(x, effective, layer.gamma, layer.beta)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn()
            loss = tf.reduce_sum(tf.sin(y) * weights)
        results.append([y, *tape.gradient(loss, [x, layer.gamma, layer.beta])])
    for got, want in zip(*results, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-9, atol=1e-12)


def test_without_affine_weights():
    layer = GroupNorm(2, scale=False, center=False)
    y = layer(tf.random.normal((2, 4, 4, 8)))
    assert layer.trainable_weights == [] and y.shape == (2, 4, 4, 8)
    np.testing.assert_allclose(tf.reduce_mean(tf.reshape(y, (2, 16, 2, 4)), axis=[1, 3]).numpy(), 0, atol=1e-5)


@pytest.mark.parametrize("scale,center", [(True, True), (False, True), (True, False)])
def test_recorded_taps_give_each_examples_weight_gradients(scale, center):
    # DP-SGD reads per-example gamma/beta gradients off the tap: they must equal the
    # gradients of each example alone, and the output must not change while recording.
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(1.0, 2.0, size=(3, 4, 4, 6)))
    weights = tf.constant(rng.normal(size=(3, 4, 4, 6)))
    layer = GroupNorm(3, scale=scale, center=center, dtype="float64")
    layer.build(x.shape)
    for w in layer.trainable_weights:
        w.assign(rng.normal(size=w.shape))
    with record_taps() as taps, tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(tf.sin(y) * weights)
    (t,) = taps
    assert [id(w) for w in t.inputs] == [id(w) for w in layer.trainable_weights]
    per_example = tape.gradient(loss, t.output)
    np.testing.assert_allclose(y.numpy(), layer(x).numpy(), rtol=1e-12)
    for i in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(layer(x[i : i + 1])) * weights[i : i + 1])
        for got, want in zip(per_example, tape.gradient(loss, layer.trainable_weights), strict=True):
            np.testing.assert_allclose(got[i].numpy(), want.numpy(), rtol=1e-9, atol=1e-12)
