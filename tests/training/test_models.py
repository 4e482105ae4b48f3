"""Backbones (MobileFaceNet, IResNet) and margin heads."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.engine import dp_layers, heads, models
from training.engine.dp_sgd import _check_coverage
from training.engine.taps import record_taps


def norm_layers(model: keras.Model) -> set[type]:
    kinds = (keras.layers.BatchNormalization, dp_layers.GroupNorm)
    return {type(layer) for layer in model.layers if isinstance(layer, kinds)}


@pytest.fixture(scope="module")
def mobilefacenet_dp() -> keras.Model:
    return models.build_backbone("mobilefacenet", dp=True)


def test_mobilefacenet_dp_has_groupnorm_only_and_every_weight_is_tapped(mobilefacenet_dp):
    assert norm_layers(mobilefacenet_dp) == {dp_layers.GroupNorm}
    assert sum(int(np.prod(v.shape)) for v in mobilefacenet_dp.trainable_variables) == 1_200_512
    images = np.zeros((1, *models.INPUT_SHAPE), "float32")
    with record_taps() as taps:
        embedding = mobilefacenet_dp(images, training=True)
    assert embedding.shape == (1, 512)
    _check_coverage(taps, mobilefacenet_dp.trainable_variables)  # raises if a weight escaped clipping


def test_non_dp_models_use_batchnorm():
    model = models.build_backbone("mobilefacenet", embedding_size=128, dp=False)
    assert norm_layers(model) == {keras.layers.BatchNormalization}
    assert model.output_shape == (None, 128)


@pytest.mark.parametrize("name,params", [("iresnet18", 24_025_088), ("iresnet50", 43_590_336)])
def test_iresnet_matches_insightface_parameter_count(name, params):
    # insightface's counts (24.03M, 43.59M) include the frozen BatchNorm1d scale (512).
    model = models.build_backbone(name, dp=True)
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == params
    assert norm_layers(model) == {dp_layers.GroupNorm}
    assert model.output_shape == (None, 512)


def test_unknown_backbone_or_head():
    with pytest.raises(ValueError, match="backbone"):
        models.build_backbone("resnet1000")
    with pytest.raises(ValueError, match="head"):
        heads.make_head("sphereface", 10)


def cosines(head, embeddings):
    return tf.matmul(tf.math.l2_normalize(embeddings, axis=1), tf.math.l2_normalize(head.cosine.kernel, axis=0)).numpy()


def test_arcface_adds_the_angular_margin_to_the_target_only():
    head = heads.make_head("arcface", 7)
    embeddings = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
    labels = np.array([0, 3, 6, 3])
    logits = head(embeddings, labels).numpy()
    cos = cosines(head, embeddings)
    want = 64.0 * cos
    for i, j in enumerate(labels):
        want[i, j] = 64.0 * math.cos(math.acos(cos[i, j]) + 0.5)  # all angles < pi - m here
    np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(head(embeddings).numpy(), 64.0 * cos, rtol=1e-5)  # inference: no margin


def test_cosface_subtracts_the_margin_from_the_target():
    head = heads.make_head("cosface", 5)
    embeddings = np.random.default_rng(1).normal(size=(3, 8)).astype("float32")
    labels = np.array([4, 0, 2])
    logits = head(embeddings, labels).numpy()
    want = 64.0 * (cosines(head, embeddings) - 0.35 * np.eye(5)[labels])
    np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-3)


def test_softmax_head_is_dense_logits():
    head = heads.make_head("softmax", 5)
    assert head(np.ones((2, 8), "float32")).shape == (2, 5)
