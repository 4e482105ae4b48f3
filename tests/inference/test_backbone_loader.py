"""The one loader of exported backbones: a model built from the project's custom layers
saves and loads into an embedder (the bug of #11: Keras could not locate privface>Conv2D),
a bad file is one line, and a model card gives privacy and the default threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.engine.embedders import (
    KerasEmbedder,
    ModelChanged,
    cached_keras_embedder,
    card_privacy,
    card_threshold,
    file_digest,
)
from privface_core.errors import UserError


def test_verification_reports_the_threshold_at_its_far_target():
    from training.engine.verification import evaluate_pairs

    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 8))
    same = np.arange(40) % 2 == 0
    b = np.where(same[:, None], a + 0.05 * rng.standard_normal((40, 8)), rng.standard_normal((40, 8)))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    result = evaluate_pairs(unit(a), unit(b), same)
    assert result.far_threshold is not None and 0 <= result.far_threshold <= 4
    card = {"verification": result.to_dict()}
    assert card_threshold(card) == pytest.approx(1 - result.far_threshold / 2, abs=1e-4)
    assert card_threshold({"verification": {"threshold": 1.0}}) == 0.5  # an older card: best-accuracy threshold
    assert card_threshold({}) is None


def test_privacy_comes_from_the_card():
    dp = {"enabled": True, "epsilon": 2.0, "delta": 1e-5, "accountant": "pld", "unit": "one image"}
    assert card_privacy({"dp": dp}) == {"private": True, "epsilon": 2.0, "delta": 1e-5, "unit": "one image",
                                        "accountant": "pld"}
    assert card_privacy({"dp": {"enabled": False}})["private"] is False


def test_a_backbone_of_custom_layers_loads_into_an_embedder_and_is_cached(tmp_path):
    import keras

    from training.engine import dp_layers

    # Seeded, and fed textured images: a constant image through a random conv and PReLU can
    # come out all zero (every channel negative), which one CI run in sixteen would hit.
    keras.utils.set_random_seed(7)
    x = inputs = keras.Input((112, 112, 3))
    x = dp_layers.Conv2D(4, 3, strides=4, padding="same")(x)
    x = dp_layers.PReLU(shared_axes=[1, 2])(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = dp_layers.Dense(16)(x)
    path = tmp_path / "export" / "backbone.keras"
    path.parent.mkdir()
    keras.Model(inputs, x).save(path)
    (path.parent / "model_card.json").write_text(json.dumps({
        "model": {"embedding_size": 16}, "dp": {"enabled": True, "epsilon": 4.0, "delta": 1e-5, "unit": "one image"},
        "verification": {"far_threshold": 1.2}}))

    embedder = KerasEmbedder.from_file(path)
    assert embedder.name == f"keras:{file_digest(path)[:16]}" and embedder.dim == 16
    assert embedder.private and embedder.default_threshold == pytest.approx(0.4)
    rng = np.random.default_rng(7)
    vectors = embedder.embed_batch([rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(2)])
    assert vectors.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, rtol=1e-5)

    cached = cached_keras_embedder(path, embedder.digest)
    assert cached_keras_embedder(path, embedder.digest) is cached  # once per process
    with pytest.raises(ModelChanged, match="changed"):
        cached_keras_embedder(path, "0" * 64)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelChanged, match="changed"):
        cached_keras_embedder(path, embedder.digest)  # the file is re-hashed when it changes
    path.unlink()
    with pytest.raises(ModelChanged, match="missing"):
        cached_keras_embedder(path, embedder.digest)


def test_a_file_that_is_not_a_backbone_is_one_line(tmp_path):
    from training.engine.export import BackboneError, load_backbone

    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BackboneError) as err:
        load_backbone(bad)
    assert "\n" not in str(err.value) and "not a loadable Keras backbone" in str(err.value)
    with pytest.raises(BackboneError, match="no such model file"):
        load_backbone(tmp_path / "none.keras")
    with pytest.raises(UserError, match="not a loadable"):
        KerasEmbedder(str(bad)).embed(np.zeros((112, 112, 3), np.uint8))
