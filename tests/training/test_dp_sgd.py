"""DP-SGD: clipped sums against a per-example loop, noise scale, Poisson batch sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.tiny_models import tiny_backbone, tiny_model
from training.engine import dp_layers, heads, per_example
from training.engine.dp_sgd import DPConfig
from training.engine.loop import array_fetch, classifier_trainer, fit
from training.engine.sampling import poisson_batches, shuffled_batches

BATCH = 8


@pytest.fixture
def float64():
    # The reference and the engine sum in different orders; float64 makes that noise
    # negligible so rtol=1e-5 judges the algebra, not the rounding.
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy("float32")


def batch(dtype: str = "float64", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, 8, 8, 3)).astype(dtype), rng.integers(0, 5, size=BATCH)


def per_example_reference(loss_fn, variables, images, labels):
    """Per-example gradients the slow, obvious way: one example at a time."""
    grads, norms = [], []
    for i in range(len(images)):
        with tf.GradientTape() as tape:
            loss = loss_fn(images[i : i + 1], labels[i : i + 1])[0]
        g = [t.numpy() for t in tape.gradient(loss, variables)]
        grads.append(g)
        norms.append(np.sqrt(sum(np.sum(t.astype("float64") ** 2) for t in g)))
    return grads, np.array(norms)


def clipped_reference(grads, norms, clip):
    factors = np.minimum(1.0, clip / norms)
    return [sum(f * g[k] for f, g in zip(factors, grads, strict=True)) for k in range(len(grads[0]))]


@pytest.mark.parametrize("conv_kernels", ["loop", "offsets"])  # CPU's and GPU's way
@pytest.mark.parametrize("head", ["softmax", "arcface", "cosface"])
def test_clipped_sum_equals_per_example_loop(float64, head, conv_kernels, monkeypatch):
    monkeypatch.setattr(per_example, "CONV_KERNELS", conv_kernels)
    backbone, head_layer = tiny_model(head)
    trainer = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1))
    images, labels = batch()
    grads, norms = per_example_reference(trainer.loss_fn, trainer.variables, images, labels)
    clip = float(np.median(norms))  # half the examples get clipped, half do not
    dp = DPConfig(l2_norm_clip=clip, noise_multiplier=0.0, expected_batch_size=1.0)
    got = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1), dp).gradients(images, labels)
    want = clipped_reference(grads, norms, clip)
    assert len(got) == len(want) == len(trainer.variables)
    for variable, g, w in zip(trainer.variables, got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-5, atol=1e-12, err_msg=variable.path)


def test_clipped_sum_float32_close_to_reference():
    backbone, head_layer = tiny_model("arcface")
    trainer = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1))
    images, labels = batch("float32")
    grads, norms = per_example_reference(trainer.loss_fn, trainer.variables, images, labels)
    clip = float(np.median(norms))
    dp_trainer = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1), DPConfig(clip, 0.0, 1.0))
    got = np.concatenate([g.numpy().ravel() for g in dp_trainer.gradients(images, labels)])
    want = np.concatenate([w.ravel() for w in clipped_reference(grads, norms, clip)])
    assert np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(want)


def test_noise_has_std_noise_multiplier_times_clip_over_expected_batch():
    backbone, head_layer = tiny_model("softmax")
    clip, noise, expected = 0.7, 1.5, 4.0
    images, labels = batch("float32")
    clean = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1), DPConfig(clip, 0.0, expected))
    noisy = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1), DPConfig(clip, noise, expected), seed=7)
    signal = np.concatenate([g.numpy().ravel() for g in clean.gradients(images, labels)])
    draws = np.concatenate(
        [np.concatenate([g.numpy().ravel() for g in noisy.gradients(images, labels)]) - signal for _ in range(4)]
    )
    assert draws.size > 8000
    want = noise * clip / expected
    assert np.std(draws) == pytest.approx(want, rel=0.04)  # ~5 standard errors
    assert abs(np.mean(draws)) < 4 * want / np.sqrt(draws.size)
    # An empty Poisson batch still releases (only) noise, at the same scale.
    empty = np.concatenate([g.numpy().ravel() for g in noisy.gradients(images[:0], labels[:0])])
    assert np.std(empty) == pytest.approx(want, rel=0.1)


def test_poisson_batches_have_the_right_mean_size():
    rng = np.random.default_rng(1)
    sizes = np.array([len(b) for b in poisson_batches(10_000, 0.0064, 2000, rng)])
    # Binomial(10000, 0.0064): mean 64, std ~8; the mean of 2000 batches has std ~0.18.
    assert sizes.mean() == pytest.approx(64, abs=0.8)
    assert sizes.std() == pytest.approx(np.sqrt(10_000 * 0.0064 * (1 - 0.0064)), rel=0.1)
    one = next(poisson_batches(100, 0.5, 1, rng))
    assert len(set(one)) == len(one) and one.min() >= 0 and one.max() < 100


def test_shuffled_batches_cover_each_epoch_once():
    batches = list(shuffled_batches(10, 4, 2, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    assert sorted(np.concatenate(batches[:3])) == list(range(10))


def test_non_dp_mode_gives_the_mean_gradient():
    backbone, head_layer = tiny_model("cosface")
    trainer = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.1))
    images, labels = batch("float32")
    with tf.GradientTape() as tape:
        mean = tf.reduce_mean(trainer.loss_fn(images, labels))
    want = tape.gradient(mean, trainer.variables)
    for g, w in zip(trainer.gradients(images, labels), want, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-5 * np.abs(w.numpy()).max())


def test_weights_outside_tapped_layers_are_refused():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3)(inputs)  # a plain Keras layer: no per-example rule
    x = dp_layers.Dense(4)(keras.layers.Flatten()(x))
    backbone = keras.Model(inputs, x)
    head = heads.make_head("softmax", 5)
    trainer = classifier_trainer(backbone, head, keras.optimizers.SGD(0.1), DPConfig(1.0, 1.0, 4.0))
    with pytest.raises(ValueError, match="not in tapped layers"):
        trainer.gradients(*batch("float32"))


def test_fit_trains_and_accounts():
    backbone, head_layer = tiny_model("softmax")
    rng = np.random.default_rng(3)
    images = rng.normal(size=(64, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 5, size=64)
    dp = DPConfig(l2_norm_clip=1.0, noise_multiplier=0.0, expected_batch_size=16)
    trainer = classifier_trainer(backbone, head_layer, keras.optimizers.SGD(0.5), dp, seed=0)
    before = float(np.mean(trainer.loss_fn(images, labels)))
    result = fit(trainer, array_fetch(images, labels), 64, 16, epochs=5, delta=1e-5, seed=0)
    assert result.steps == 20 and result.epsilon == float("inf")  # no noise, no privacy
    assert float(np.mean(trainer.loss_fn(images, labels))) < before
    assert 10 < np.mean([s["batch_size"] for s in result.history]) < 22


def test_tiny_backbone_has_no_batchnorm():
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in tiny_backbone().layers)
