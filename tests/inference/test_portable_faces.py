"""The portable face pipeline (ONNX detector + 68 landmarks + alignment) on the fixture photos.

The browser half of the parity (faces.ts in Chromium, the same ONNX files) is in
tests/inference_api/test_browser_faces.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from inference.engine import portable_faces as pf
from inference.engine.face_align import apply_transform, similarity_transform, warp_crop
from inference.engine.face_image import load_image
from inference.engine.face_models import convert
from inference.engine.faces import align_face, detect_faces
from tests.inference.test_faces import faces_dir, read_csv

# The committed ONNX files (docs/browser-search.md records the same digests).
SHA256 = {
    "tiny_face_detector.onnx": "bb6350f66942d7dda94caf9f23d0a08cdb6dab537c2cb85cf25c3d36d6613701",
    "face_landmark_68.onnx": "7ac07a04ab556c659c46ea112ec3e53df379371d3a61bfc6a892becb35e51ab4",
}


def source_needed() -> None:
    """The converter's input is a frontend devDependency: missing it is a broken checkout, not a skip."""
    if not convert.DEFAULT_SOURCE.is_dir():
        pytest.fail(f"{convert.DEFAULT_SOURCE} missing: run npm install in frontend/")


def test_committed_models_have_the_recorded_digests():
    for name, digest in SHA256.items():
        assert hashlib.sha256((pf.MODELS / name).read_bytes()).hexdigest() == digest, name


def test_converter_reproduces_the_committed_models():
    source_needed()
    built = convert.build()
    assert sorted(built) == sorted(SHA256)
    for name, data in built.items():
        assert data == (pf.MODELS / name).read_bytes(), f"{name} differs from the converter's output"


def test_converter_refuses_leftover_bytes(tmp_path: Path):
    source_needed()
    name = "tiny_face_detector_model"
    (tmp_path / f"{name}-weights_manifest.json").write_bytes(
        (convert.DEFAULT_SOURCE / f"{name}-weights_manifest.json").read_bytes())
    (tmp_path / f"{name}.bin").write_bytes((convert.DEFAULT_SOURCE / f"{name}.bin").read_bytes() + b"\0")
    with pytest.raises(ValueError, match="left over"):
        convert.load_weights(tmp_path, name)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    scores = np.array([0.6, 0.9, 0.7, 0.9])
    # 1 and 3 tie: the lower index wins; 0 and 3 overlap 1 (IoU 0.68 > 0.4); 2 stands alone.
    assert pf.nms(boxes, scores) == [1, 2]
    assert pf.nms_groups(boxes, scores) == [[1, 3, 0], [2]]


def test_merged_box_weights_each_box_by_its_score_above_the_threshold():
    boxes = np.array([[0, 0, 10, 10], [2, 2, 12, 12]], float)
    # weights 0.6 and 0.2: the mean is a quarter of the way to the second box
    np.testing.assert_allclose(pf.merged_box(boxes, np.array([0.9, 0.5]), [0, 1], 0.3), [0.5, 0.5, 10.5, 10.5])


def test_decode_grid_places_one_confident_anchor():
    grid = np.full((13, 13, 25), -10.0)
    grid[4, 7, 2 * 5: 2 * 5 + 5] = [0.0, 0.0, 0.0, 0.0, 3.0]  # anchor 2, cell row 4 col 7
    boxes, scores = pf.decode_grid(grid, side=416.0)
    assert scores.shape == (1,) and scores[0] == pytest.approx(1 / (1 + np.exp(-3)))
    cx, cy = (7.5 / 13) * 416 - 0.5, (4.5 / 13) * 416 - 0.5
    w, h = 2.882459 / 13 * 416, 3.518061 / 13 * 416
    np.testing.assert_allclose(boxes[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_warp_affine_identity_and_against_cv2():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    assert np.array_equal(pf.to_uint8(pf.warp_affine(image, identity, 80, 60)), image)
    src, dst = np.array([[10.0, 12], [50, 14], [30, 40]]), np.array([[20.0, 30], [90, 28], [56, 80]])
    matrix = similarity_transform(src, dst)
    ours = pf.to_uint8(pf.warp_affine(image, matrix, 112, 112)).astype(int)
    cv = warp_crop(image, matrix).astype(int)
    # cv2 quantises the bilinear weights to 1/32: a level or two on random noise, no more.
    assert np.abs(ours - cv).max() <= 4 and np.abs(ours - cv).mean() < 1.0


def test_supersampling_only_when_shrinking_more_than_twice():
    assert pf.supersampling(np.array([[0.5, 0, 0], [0, 0.5, 0]])) == 1
    assert pf.supersampling(np.array([[0.43, 0, 0], [0, 0.43, 0]])) == 2
    assert pf.supersampling(np.array([[0.2, 0, 0], [0, 0.2, 0]])) == 3


def test_refuses_a_non_rgb_array():
    with pytest.raises(ValueError, match="uint8 RGB"):
        pf.align_face(np.zeros((10, 10), np.uint8))


def test_a_blank_photo_has_no_face():
    assert pf.align_face(np.full((200, 300, 3), 128, np.uint8)) is None


@pytest.fixture(scope="module")
def pairs():
    """(file, dlib face, portable face) for every labelled photo."""
    out = []
    for row in read_csv("labels.csv"):
        image = load_image((faces_dir() / row["file"]).read_bytes())
        out.append((row["file"], align_face(image), pf.align_face(image)))
    return out


def test_a_face_in_every_photo_dlib_finds_one_in(pairs):
    missed = [name for name, _, face in pairs if face is None]
    assert not missed, f"portable detector missed {missed}"
    assert all(face.n_faces == 1 and face.crop.shape == (112, 112, 3) for _, _, face in pairs)


def test_landmarks_land_where_dlibs_alignment_puts_them(pairs):
    """Our five points, mapped by dlib's crop transform, against where ours are mapped by ours.

    Both transforms put the face in the same frame: per point the mean distance is about
    1 px (eyes, nose) to 1.6 px (mouth corners) in the 112 crop, 4.3 px at worst.
    """
    dist = np.array([np.linalg.norm(apply_transform(dlib.transform, face.points5)
                                    - apply_transform(face.transform, face.points5), axis=1)
                     for _, dlib, face in pairs])
    assert dist.mean(axis=0).max() < 2.0, dist.mean(axis=0)
    assert dist.max() < 6.0, dist.max()
    mad = [np.abs(dlib.crop.astype(int) - face.crop.astype(int)).mean() for _, dlib, face in pairs]
    assert np.mean(mad) < 15, np.mean(mad)


def test_group_photos_find_as_many_faces_as_dlib():
    for name in ("couple.jpg", "selfie-many-people.jpg"):
        image = load_image((faces_dir() / name).read_bytes())
        assert len(pf.detect(image)) == len(detect_faces(image)), name


def test_a_few_levels_of_decoder_difference_move_the_points_under_a_pixel(pairs):
    """Browsers decode JPEGs with their own libjpeg build, which may differ from PIL's by a level
    or two (Chromium 156 and PIL agree exactly on the fixtures): +-2 levels of noise on every
    pixel moves the five points by ~0.22 px on average, 0.65-0.83 px at worst (3 draws);
    with plain NMS instead of merged boxes one draw moved a face's points 1.9 px."""
    rng = np.random.default_rng(1)
    moved = []
    for name, _, face in pairs:
        image = load_image((faces_dir() / name).read_bytes())
        noisy = np.clip(image.astype(int) + rng.integers(-2, 3, image.shape), 0, 255).astype(np.uint8)
        again = pf.align_face(noisy)
        assert again is not None, name
        moved.append(np.linalg.norm(again.points5 - face.points5, axis=1).max())
    assert max(moved) < 1.0, max(moved)
