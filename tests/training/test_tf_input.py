"""The tf.data training input: same pixels as the OpenCV path, batches as drawn, errors named."""

import cv2
import numpy as np
import pytest

from datasets.engine.errors import DatasetError
from training.engine.data import FolderSource, LabelMap, RecordSource
from training.engine.pipeline import ImageFetcher
from training.engine.tf_input import TrainingInput


def _labels(source):
    return LabelMap.fit(source.raw_labels).encode(source.raw_labels)


def test_it_gives_the_opencv_pixels_from_a_rec_file(webface_tiny):
    source = RecordSource(webface_tiny / "train.rec", webface_tiny / "train.idx")
    try:
        labels, subset = _labels(source), np.arange(80)
        batches = [np.arange(0, 30), np.arange(30, 80)]
        got = list(TrainingInput(source, subset, labels, 112, batches, decode_threads=2))
        want = ImageFetcher(source, subset, labels, 112)
        for batch, (images, y) in zip(batches, got, strict=True):
            expected, expected_y = want(batch)
            assert images.dtype.name == "float32" and tuple(images.shape) == (len(batch), 112, 112, 3)
            np.testing.assert_array_equal(images.numpy(), expected)
            np.testing.assert_array_equal(y.numpy(), expected_y)
    finally:
        source.close()


def test_it_resizes_like_opencv_and_decodes_png(webface_tiny_folder, tmp_path):
    jpeg = (webface_tiny_folder / "0" / "1.jpg").read_bytes()
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "a.jpg").write_bytes(jpeg)
    (tmp_path / "0" / "b.png").write_bytes(cv2.imencode(".png", bgr)[1].tobytes())
    source = FolderSource(tmp_path)
    labels, subset = _labels(source), np.arange(2)
    (images, _), = TrainingInput(source, subset, labels, 56, [np.arange(2)])
    expected, _ = ImageFetcher(source, subset, labels, 56)(np.arange(2))
    # A 2x area downscale: TensorFlow's float average vs OpenCV's fixed point, at most 1 level apart.
    assert np.abs(images.numpy() - expected).max() <= 1 / 128 + 1e-6
    np.testing.assert_array_equal(images.numpy()[0], images.numpy()[1])  # PNG of the same pixels


def test_it_keeps_empty_batches_and_flips_as_the_fetcher_does(webface_tiny_folder):
    source = FolderSource(webface_tiny_folder)
    labels, subset = _labels(source), np.arange(8, 80, 2)
    batches = [np.arange(0, 10), np.zeros(0, np.int64), np.arange(10, len(subset))]
    got = list(TrainingInput(source, subset, labels, 32, batches, np.random.default_rng(5), decode_threads=2))
    assert [len(y) for _, y in got] == [10, 0, len(subset) - 10]
    assert tuple(got[1][0].shape) == (0, 32, 32, 3)
    fetch, flip_rng = ImageFetcher(source, subset, labels, 32), np.random.default_rng(5)
    for batch, (images, y) in zip(batches, got, strict=True):
        expected, expected_y = fetch(batch, flip_rng)
        np.testing.assert_array_equal(images.numpy(), expected)
        np.testing.assert_array_equal(y.numpy(), expected_y)


def test_it_names_the_image_it_cannot_decode(webface_tiny_folder, tmp_path):
    (tmp_path / "0").mkdir()
    for n in range(3):
        (tmp_path / "0" / f"{n}.jpg").write_bytes((webface_tiny_folder / "0" / "1.jpg").read_bytes())
    (tmp_path / "0" / "2.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    source = FolderSource(tmp_path)
    batches = [np.array([0, 1]), np.array([2])]
    with pytest.raises(DatasetError, match=r"2\.jpg: cannot decode"):
        list(TrainingInput(source, np.arange(3), _labels(source), 112, batches))


def test_it_passes_read_errors_through_unchanged(webface_tiny_folder, tmp_path):
    (tmp_path / "0").mkdir()
    for n in range(2):
        (tmp_path / "0" / f"{n}.jpg").write_bytes((webface_tiny_folder / "0" / "1.jpg").read_bytes())
    source = FolderSource(tmp_path)
    (tmp_path / "0" / "1.jpg").unlink()
    with pytest.raises(DatasetError, match=r"cannot read .*1\.jpg"):
        list(TrainingInput(source, np.arange(2), _labels(source), 112, [np.array([0]), np.array([1])]))
