"""Backbones exported to ONNX give the templates of their Keras model: the project's layers
(tiny model: Reshape, per-pixel PReLU, strided "same" depthwise) and real MobileFaceNet /
IResNet-18 with random seeded weights, BatchNorm and GroupNorm, on aligned fixture faces."""

import csv
import functools

import numpy as np
import pytest

from tests.training.conftest import FIXTURES

FACES = FIXTURES / "faces"
MIN_COSINE = 0.9999


@functools.cache
def _labelled_crops() -> tuple[np.ndarray, tuple[str, ...]]:
    """The 112x112 aligned crops (inference.engine's dlib detection and 5-point alignment) of
    every labelled fixture photo, and their identities."""
    from inference.engine.faces import align_face_bytes

    with open(FACES / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    crops = [align_face_bytes((FACES / r["file"]).read_bytes()).crop for r in rows]
    return np.stack(crops), tuple(r["identity"] for r in rows)


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    if not (FACES / "labels.csv").is_file():
        pytest.fail(f"fixture {FACES} missing (set PRIVFACE_FIXTURES)")
    return _labelled_crops()[0]


def _trained_looking(model, crops: np.ndarray, seed: int) -> None:
    """BatchNorm as after training: random scales and shifts, moving statistics of real
    activations (at init, mean 0 and variance 1, folding them is trivially right, and the
    untrained statistics make every photo's template nearly the same)."""
    import keras

    rng = np.random.default_rng(seed)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        if layer.gamma is not None:
            layer.gamma.assign(rng.uniform(0.5, 1.5, layer.gamma.shape).astype("float32"))
        layer.beta.assign(rng.normal(0, 0.1, layer.beta.shape).astype("float32"))
        layer.momentum = 0.0  # one training-mode pass sets the moving statistics to the batch's
    if norms:
        model((crops.astype("float32") - 127.5) / 128.0, training=True)
    for layer in norms:
        layer.momentum = 0.9


def _exported(tmp_path, crops, name: str, dp: bool, embedding: int = 128):
    """A seeded random backbone saved the way training exports it, and its ONNX export."""
    import keras

    from training.engine.export import export
    from training.engine.models import build_backbone
    from training.engine.onnx_export import export_onnx

    keras.utils.set_random_seed(7)
    model = build_backbone(name, embedding, dp=dp)
    _trained_looking(model, crops, 7)
    folder = export(tmp_path, model, {"model": {"embedding_size": embedding}})
    return folder / "backbone.keras", export_onnx(folder / "backbone.keras")


@pytest.mark.parametrize("dp", [False, True], ids=["batchnorm", "groupnorm"])
def test_mobilefacenet_onnx_templates_equal_keras_embedder(tmp_path, crops, dp):
    from inference.engine.embedders import KerasEmbedder, file_digest
    from inference.engine.gallery import l2_normalise
    from training.engine.onnx_export import cosines, onnx_session, run_onnx

    keras_path, exported = _exported(tmp_path, crops, "mobilefacenet", dp)
    assert exported.path == keras_path.with_name("backbone.onnx")
    assert exported.sha256 == file_digest(exported.path)
    assert exported.keras_sha256 == file_digest(keras_path) == exported.to_card()["keras_sha256"]
    assert exported.min_cosine >= MIN_COSINE
    server = KerasEmbedder.from_file(keras_path).embed_batch(list(crops))  # what enrollment stores
    onnx = l2_normalise(run_onnx(onnx_session(exported.path), crops))
    per_photo = cosines(server, onnx)
    assert len(per_photo) == len(crops) >= 40
    assert per_photo.min() >= MIN_COSINE, per_photo.min()
    # Templates that differ from photo to photo: a constant output would pass the cosine.
    assert np.median(server @ server.T) < 0.9


def test_iresnet18_flattens_in_keras_order(tmp_path, crops):
    """IResNet flattens a 7x7x512 map into a Dense layer: the channel order must be Keras'."""
    from training.engine.export import load_backbone
    from training.engine.onnx_export import cosines, onnx_session, run_keras, run_onnx

    keras_path, exported = _exported(tmp_path, crops[:16], "iresnet18", dp=False, embedding=64)
    sample = crops[:6]
    per_photo = cosines(run_keras(load_backbone(keras_path), sample), run_onnx(onnx_session(exported.path), sample))
    assert per_photo.min() >= MIN_COSINE, per_photo.min()


def test_tiny_model_every_layer_path():
    from tests.training.tiny_models import tiny_backbone
    from training.engine.onnx_export import check_inputs, cosines, onnx_session, run_keras, run_onnx, to_onnx

    model = tiny_backbone(seed=3)
    x = check_inputs((8, 8), count=16, seed=3)
    keras_out, onnx_out = run_keras(model, x), run_onnx(onnx_session(to_onnx(model).SerializeToString()), x)
    assert cosines(keras_out, onnx_out).min() >= MIN_COSINE
    np.testing.assert_allclose(onnx_out, keras_out, rtol=1e-4, atol=1e-4)


def test_batch_of_one_and_dynamic_batch(tmp_path):
    import keras

    from tests.training.tiny_models import tiny_face_backbone
    from training.engine.onnx_export import check_inputs, onnx_session, run_onnx, to_onnx

    keras.utils.set_random_seed(1)
    session = onnx_session(to_onnx(tiny_face_backbone("m", 16, True, 32)).SerializeToString())
    x = check_inputs((32, 32), count=3)
    batch = run_onnx(session, x)
    assert batch.shape == (3, 16)
    np.testing.assert_allclose(run_onnx(session, x[1:2])[0], batch[1], rtol=1e-5, atol=1e-5)


def test_unsupported_layer_is_one_line_error():
    import keras

    from training.engine.onnx_export import OnnxExportError, to_onnx

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Flatten()(keras.layers.MaxPooling2D()(inputs)))
    with pytest.raises(OnnxExportError, match=r"MaxPooling2D has no ONNX conversion") as err:
        to_onnx(model)
    assert "\n" not in str(err.value)


def test_export_refuses_a_file_that_is_not_a_backbone(tmp_path):
    from training.engine.export import BackboneError
    from training.engine.onnx_export import export_onnx

    bad = tmp_path / "backbone.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(BackboneError):
        export_onnx(bad)
    assert not (tmp_path / "backbone.onnx").exists()
