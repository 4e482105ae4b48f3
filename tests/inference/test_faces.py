"""Detection, alignment and the reference embedder on real photos (shared/fixtures/faces)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from inference.engine.embedders import reference_embedder
from inference.engine.face_align import ARCFACE_TEMPLATE, DLIB_TARGETS, apply_transform, fit_points
from inference.engine.face_image import load_image
from inference.engine.faces import MAX_SIDE, NoFaceError, align_face, align_face_bytes, detect_faces

REPO = Path(__file__).resolve().parents[2]


def faces_dir() -> Path:
    root = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures")) / "faces"
    if not (root / "labels.csv").is_file():
        pytest.fail(f"face fixtures not found under {root} (set PRIVFACE_FIXTURES)")
    return root


def read_csv(name: str) -> list[dict[str, str]]:
    with open(faces_dir() / name, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def labelled():
    """Every labelled photo: files, identities, decoded image, aligned face, embedding."""
    rows = read_csv("labels.csv")
    files = [r["file"] for r in rows]
    images = [load_image((faces_dir() / f).read_bytes()) for f in files]
    faces = [align_face(img) for img in images]
    emb = reference_embedder().embed_batch(faces)
    return files, np.array([r["identity"] for r in rows]), images, faces, emb


def rank1(probe: np.ndarray, gallery: np.ndarray, labels: np.ndarray, exclude: int | None = None) -> str:
    scores = gallery @ probe
    if exclude is not None:
        scores[exclude] = -np.inf
    return str(labels[int(np.argmax(scores))])


def test_every_labelled_photo_is_found_and_aligned(labelled):
    files, _, _, faces, emb = labelled
    assert len(files) == 48
    for name, face in zip(files, faces, strict=True):
        assert face.detected and face.n_faces >= 1, name
        assert face.crop.shape == (112, 112, 3) and face.crop.dtype == np.uint8
        assert face.dlib_chip.shape == (150, 150, 3)
        # The fitted points land on their targets: a 3-point similarity fit leaves ~1 px.
        err = np.linalg.norm(fit_points(face.crop_landmarks) - DLIB_TARGETS, axis=1)
        assert err.max() < 3.0, (name, err)
    assert emb.shape == (48, 128) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_alignment_puts_eye_centres_on_the_arcface_template(labelled):
    """Independent check: dlib's 68-point eye centroids, moved by the transform, sit on ArcFace's eyes."""
    import dlib
    import face_recognition_models

    sp68 = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    errs = []
    for img, face in zip(labelled[2], labelled[3], strict=True):
        pts = np.array([[p.x, p.y] for p in sp68(img, dlib.rectangle(*face.box)).parts()], dtype=np.float64)
        eyes = apply_transform(face.transform, np.stack([pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)]))
        errs.append(np.linalg.norm(eyes - ARCFACE_TEMPLATE[:2], axis=1))
    errs = np.array(errs)
    print(f"eye centre error in the 112 crop: mean {errs.mean():.2f} px, max {errs.max():.2f} px")
    assert errs.mean() < 2.5 and errs.max() < 5.0


def test_leave_one_out_search(labelled):
    files, labels, _, _, emb = labelled
    hits = [rank1(emb[i], emb, labels, exclude=i) == labels[i] for i in range(len(files))]
    accuracy = float(np.mean(hits))
    print(f"leave-one-out rank-1: {accuracy:.1%} of {len(files)} photos")
    assert accuracy >= 0.95


def test_verification_pairs_at_default_threshold(labelled):
    files, _, _, _, emb = labelled
    index = {f: i for i, f in enumerate(files)}
    pairs = read_csv("pairs.csv")
    threshold = reference_embedder().default_threshold
    scores = np.array([emb[index[p["file_x"]]] @ emb[index[p["file_y"]]] for p in pairs])
    same = np.array([p["same"] == "1" for p in pairs])
    accuracy = float(np.mean((scores >= threshold) == same))
    print(
        f"pairs: {accuracy:.1%} of {len(pairs)} at cosine >= {threshold} "
        f"(same-person min {scores[same].min():.3f}, different-person max {scores[~same].max():.3f})"
    )
    assert accuracy >= 0.95


def test_group_photos_report_several_faces_and_use_the_largest(labelled):
    _, labels, _, _, emb = labelled
    for name, at_least in (("couple.jpg", 2), ("selfie-many-people.jpg", 3)):
        data = (faces_dir() / name).read_bytes()
        face = align_face_bytes(data)
        boxes = detect_faces(load_image(data))
        assert face.n_faces == len(boxes) >= at_least, name
        assert face.box == boxes[0]
        area = (boxes[0][2] - boxes[0][0]) * (boxes[0][3] - boxes[0][1])
        assert all(area >= (r - x) * (b - y) for x, y, r, b in boxes)
    # The couple's largest face is a labelled person (person_04), clearly ahead of the rest.
    assert rank1(reference_embedder().embed(face_of("couple.jpg")), emb, labels) == "person_04"


def face_of(name: str):
    return align_face_bytes((faces_dir() / name).read_bytes())


def test_mirrored_photo_still_matches_its_person(labelled):
    files, labels, images, _, emb = labelled
    first_of_each = [int(np.flatnonzero(labels == person)[0]) for person in np.unique(labels)]
    for i in first_of_each:
        mirrored = align_face(images[i][:, ::-1])
        assert rank1(reference_embedder().embed(mirrored), emb, labels, exclude=i) == labels[i], files[i]


def test_a_112_image_without_a_face_is_no_face_unless_the_caller_says_it_is_aligned():
    import cv2

    blank = np.full((112, 112, 3), 128, np.uint8)
    ok, png = cv2.imencode(".png", blank)
    with pytest.raises(NoFaceError):
        align_face_bytes(png.tobytes())
    assert not align_face_bytes(png.tobytes(), aligned=True).detected  # the caller's word is taken


def test_aligned_112_crop_skips_detection(labelled, monkeypatch):
    import cv2

    from inference.engine import faces as faces_module

    monkeypatch.setattr(faces_module, "_detector", lambda: pytest.fail("detector ran on an aligned crop"))
    files, labels, _, faces, emb = labelled
    for i in (0, 20, 40):
        ok, png = cv2.imencode(".png", np.ascontiguousarray(faces[i].crop[:, :, ::-1]))
        assert ok
        again = align_face_bytes(png.tobytes(), aligned=True)
        assert not again.detected and again.n_faces == 1
        np.testing.assert_array_equal(again.crop, faces[i].crop)
        probe = reference_embedder().embed(again)
        assert probe @ emb[i] > 0.95
        assert rank1(probe, emb, labels, exclude=i) == labels[i], files[i]


def test_huge_photo_is_shrunk_and_landmarks_map_back(labelled):
    import cv2

    image, face = labelled[2][0], labelled[3][0]
    factor = 1.2 * MAX_SIDE / max(image.shape[:2])  # 2400 px on the long side
    big = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    assert max(big.shape[:2]) > MAX_SIDE
    big_face = align_face(big)
    np.testing.assert_allclose(big_face.landmarks / factor, face.landmarks, atol=4.0)
    np.testing.assert_allclose(big_face.crop_landmarks, face.crop_landmarks, atol=2.0)
    assert reference_embedder().embed(big_face) @ labelled[4][0] > 0.95


def test_small_face_is_found_by_upsampling(labelled):
    import cv2

    image = labelled[2][0]
    small = cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    width = labelled[3][0].box[2] - labelled[3][0].box[0]
    assert width * 0.25 < 80  # below HOG's 80 px window: only the upsampled pass sees it
    assert align_face(small).n_faces == 1
