"""Training input: folder and RecordIO sources, label remapping, held-out split, decoding."""

import cv2
import numpy as np
import pytest

from datasets.engine.errors import DatasetError
from training.engine.data import FolderSource, LabelMap, RecordSource, holdout_split
from training.engine.pipeline import ImageFetcher, decode_image, normalize


def test_folder_and_recordio_give_the_same_images_and_labels(webface_tiny, webface_tiny_folder):
    rec = RecordSource(webface_tiny / "train.rec", webface_tiny / "train.idx")
    folder = FolderSource(webface_tiny_folder)
    try:
        assert len(rec.raw_labels) == len(folder.raw_labels) == 80
        np.testing.assert_array_equal(rec.raw_labels, folder.raw_labels)
        np.testing.assert_array_equal(np.bincount(rec.raw_labels), [8] * 10)
        for i in (0, 41, 79):
            assert rec.read(i) == folder.read(i)
    finally:
        rec.close()


def test_folder_without_manifest_uses_label_directories(webface_tiny_folder, tmp_path):
    for label in ("3", "17"):
        (tmp_path / label).mkdir()
        for n in range(2):
            (tmp_path / label / f"{n}.jpg").write_bytes((webface_tiny_folder / "0" / "1.jpg").read_bytes())
    source = FolderSource(tmp_path)
    np.testing.assert_array_equal(source.raw_labels, [3, 3, 17, 17])
    np.testing.assert_array_equal(LabelMap.fit(source.raw_labels).encode(source.raw_labels), [0, 0, 1, 1])


def test_manifest_paths_may_not_leave_the_folder(tmp_path):
    (tmp_path / "manifest.jsonl").write_text('{"path": "../secret.jpg", "labels": [0.0]}\n')
    with pytest.raises(DatasetError, match="leaves the dataset folder"):
        FolderSource(tmp_path)


def test_label_map_remaps_sparse_labels_and_refuses_unknown_ones():
    raw = np.array([40, 7, 7, 1000, 40])
    labels = LabelMap.fit(raw)
    assert labels.classes == (7, 40, 1000)
    np.testing.assert_array_equal(labels.encode(raw), [1, 0, 0, 2, 1])
    with pytest.raises(ValueError):
        labels.encode(np.array([8]))


def test_holdout_keeps_identities_in_training_and_is_disjoint():
    labels = np.repeat(np.arange(5), [8, 8, 2, 1, 20])
    train, held = holdout_split(labels, 0.1, np.random.default_rng(0))
    assert not set(train) & set(held) and len(train) + len(held) == len(labels)
    # round(0.8)=1, round(0.8)=1, 2 images -> 1 out, 1 image -> none, round(2.0)=2
    np.testing.assert_array_equal(np.bincount(labels[held], minlength=5), [1, 1, 1, 0, 2])
    assert set(labels[train]) == set(range(5))
    train0, held0 = holdout_split(labels, 0.0, np.random.default_rng(0))
    assert len(held0) == 0 and len(train0) == len(labels)


def test_decoding_gives_rgb_in_minus_one_to_one(webface_tiny_folder):
    data = (webface_tiny_folder / "0" / "1.jpg").read_bytes()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    rgb = decode_image(data, 112)
    np.testing.assert_array_equal(rgb, bgr[:, :, ::-1])
    assert decode_image(data, 56).shape == (56, 56, 3)
    x = normalize(rgb)
    assert x.dtype == np.float32 and -1 <= x.min() and x.max() < 1
    with pytest.raises(DatasetError, match="cannot decode"):
        decode_image(b"not an image", 112)


def test_fetcher_flips_about_half_and_maps_subset_positions(webface_tiny_folder):
    source = FolderSource(webface_tiny_folder)
    labels = LabelMap.fit(source.raw_labels).encode(source.raw_labels)
    subset = np.arange(8, 80, 2)  # positions in the source
    fetch = ImageFetcher(source, subset, labels, 32, threads=2)
    plain, y = fetch(np.arange(len(subset)))
    np.testing.assert_array_equal(y, labels[subset])
    flipped, _ = fetch(np.arange(len(subset)), np.random.default_rng(0))
    mirrored = [np.array_equal(f, p[:, ::-1]) and not np.array_equal(f, p) for f, p in zip(flipped, plain, strict=True)]
    same = [np.array_equal(f, p) for f, p in zip(flipped, plain, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert 8 <= sum(mirrored) <= 28
    assert fetch(np.zeros(0, int))[0].shape == (0, 32, 32, 3)
    fetch.close()
