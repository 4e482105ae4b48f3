"""Precise BatchNorm statistics, and the default (BatchNorm) MobileFaceNet learning on webface_tiny."""

import keras
import numpy as np

from training.engine import batchnorm
from training.engine.config import TrainConfig
from training.engine.trainer import train


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(momentum=0.9)])
    x = inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-5)(x)
    return keras.Model(inputs, inner(x))


def test_it_sets_the_moving_statistics_to_the_mean_of_the_batches():
    model = _model()
    first, second = sorted(batchnorm.batch_norm_layers(model), key=lambda layer: layer.momentum, reverse=True)
    weights = [w.numpy().copy() for w in model.trainable_weights]
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (8, 4)).astype("float32") for _ in range(3)] + [np.zeros((0, 4), "float32")]
    assert batchnorm.recalibrate(model, batches) == 3
    np.testing.assert_allclose(first.moving_mean.numpy(), np.mean([b.mean(0) for b in batches[:3]], 0), rtol=1e-5)
    np.testing.assert_allclose(first.moving_variance.numpy(), np.mean([b.var(0) for b in batches[:3]], 0), rtol=1e-4)
    assert (first.momentum, second.momentum) == (0.99, 0.9)  # restored
    assert second.moving_mean.numpy().any()  # the nested model's layer was found too
    for before, after in zip(weights, model.trainable_weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())


def test_it_leaves_a_model_without_batchnorm_alone():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert batchnorm.recalibrate(model, [np.ones((2, 4), "float32")]) == 0


def test_the_default_backbone_learns_and_is_right_in_inference_mode(webface_tiny, tmp_path):
    # Without precise BN statistics this run scores chance in inference mode (the moving
    # averages trail weights that change fast), while its training-mode accuracy is 100 %.
    config = TrainConfig(
        rec_file=str(webface_tiny / "train.rec"), idx_file=str(webface_tiny / "train.idx"), model="mobilefacenet",
        image_size=56, embedding_size=64, head="softmax", optimizer="adam", lr=1e-3, epochs=3, batch_size=16,
        seed=1, output_dir=str(tmp_path / "run"),
    )
    result = train(config)
    last = result.history[-1]
    assert last["train_accuracy"] >= 0.7  # chance is 0.1
    assert last["holdout_accuracy"] >= 0.5
