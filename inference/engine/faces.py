"""Face detection and alignment: a photo -> the 112x112 ArcFace crop and dlib's 150x150 chip.

dlib's HOG detector finds faces, its 5-point model places landmarks, and a similarity
transform on those landmarks (face_align.py) produces the ArcFace crop. dlib's ResNet
embedder wants its own chip (dlib.get_face_chip), so the result carries both and an
embedder takes whichever it was trained on. dlib and OpenCV are imported lazily (the
web process must not load them at start); the models are loaded once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from inference.engine.face_align import (
    ALIGNED_BOX,
    CROP_SIZE,
    DLIB_TARGETS,
    apply_transform,
    eye_centres,
    fit_points,
    similarity_transform,
    warp_crop,
)
from inference.engine.face_image import BadImage, UnsupportedImageType, load_image
from privface_core.errors import UserError

__all__ = [
    "AlignedFace",
    "BadImage",
    "NoFaceError",
    "UnsupportedImageType",
    "align_face",
    "align_face_bytes",
    "detect_faces",
    "portable_face",
]

# A gallery's face pipeline: dlib's HOG + 5 points (this module), or the ONNX detector and
# 68 landmarks of portable_faces.py that the browser runs identically (issue #13).
DLIB, PORTABLE = "dlib", "portable"
PIPELINES = (DLIB, PORTABLE)
NO_CHIP = np.zeros((0, 0, 3), np.uint8)  # a portable face has no dlib chip: only 112x112 embedders take it

# Longer side above which a photo is shrunk before detection: HOG time grows with
# pixel count, and 2000 px still leaves a face that fills 5 % of the width 100 px wide.
MAX_SIDE = 2000
# Only photos up to this size get the 2x-upsampled second pass: upsampling costs 4x the
# first pass (1.8 s on a 2000 px photo here), and in a bigger photo a face under 80 px
# is rarely the subject.
UPSAMPLE_MAX_SIDE = 1000
DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25  # dlib's ResNet was trained on chips with this padding


class NoFaceError(UserError):
    """The photo has no face the detector can find."""

    http_status = 422


@dataclass(frozen=True, eq=False)
class AlignedFace:
    """One face, aligned two ways, with where it came from.

    ``landmarks`` are dlib's 5 points (right eye outer/inner, left eye outer/inner,
    nose base; sides as seen in the image) in the coordinates of the photo passed in;
    ``transform`` maps those coordinates onto ``crop``.
    """

    crop: np.ndarray  # (112, 112, 3) uint8 RGB in the ArcFace template
    dlib_chip: np.ndarray  # (150, 150, 3) uint8 RGB, dlib.get_face_chip(size=150, padding=0.25)
    landmarks: np.ndarray  # (5, 2) float64, photo coordinates
    transform: np.ndarray  # (2, 3) photo -> crop
    box: tuple[int, int, int, int]  # left, top, right, bottom in photo coordinates
    n_faces: int  # faces found; the largest is the one aligned
    detected: bool  # False when the photo was already a 112x112 aligned crop

    @property
    def crop_landmarks(self) -> np.ndarray:
        """``landmarks`` in crop coordinates."""
        return apply_transform(self.transform, self.landmarks)

    @property
    def eye_centres(self) -> np.ndarray:
        """(left, right) eye centres in photo coordinates."""
        return eye_centres(self.landmarks)


@functools.cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def _shape_predictor():
    import dlib
    import face_recognition_models

    return dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image)  # dlib refuses strided views (e.g. a mirrored array)


def _working_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The photo capped at MAX_SIDE, and the factor from photo to working coordinates."""
    side = max(image.shape[:2])
    if side <= MAX_SIDE:
        return image, 1.0
    import cv2

    factor = MAX_SIDE / side
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), factor


def _detect(work: np.ndarray) -> list:
    """dlib rectangles, largest first; one 2x upsampling pass for a small photo with none at first."""
    rects = list(_detector()(work, 0))
    if not rects and max(work.shape[:2]) <= UPSAMPLE_MAX_SIDE:
        # HOG's window is 80x80: faces smaller than that appear only after upsampling.
        rects = list(_detector()(work, 1))
    # Stable sort: equal areas keep dlib's order, which is highest detector score first.
    return sorted(rects, key=lambda r: r.area(), reverse=True)


def detect_faces(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) of every face found, largest first, in photo coordinates."""
    image = _rgb(image)
    work, factor = _working_copy(image)
    return [_box(r, factor) for r in _detect(work)]


def _box(rect, factor: float) -> tuple[int, int, int, int]:
    return tuple(int(round(v / factor)) for v in (rect.left(), rect.top(), rect.right(), rect.bottom()))


def _points(shape) -> np.ndarray:
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def _face(work: np.ndarray, shape, factor: float, box, n_faces: int, detected: bool) -> AlignedFace:
    import dlib

    points = _points(shape)
    to_crop = similarity_transform(fit_points(points), DLIB_TARGETS)
    crop = warp_crop(work, to_crop)
    chip = dlib.get_face_chip(work, shape, size=DLIB_CHIP_SIZE, padding=DLIB_CHIP_PADDING)
    # Back to the caller's photo coordinates: landmarks scale up, the transform absorbs the factor.
    photo_to_crop = np.hstack([to_crop[:, :2] * factor, to_crop[:, 2:]])
    return AlignedFace(crop, chip, points / factor, photo_to_crop, box, n_faces, detected)


def _aligned_crop_face(crop: np.ndarray) -> AlignedFace:
    """A photo that is already a 112x112 ArcFace crop: no detection, landmarks from the template box.

    dlib's chip (padding 0.25) reaches past the crop's border; dlib fills that with
    black, which cost nothing measurable on the fixtures (cosine 0.996 on average
    to the chip cut from the full photo; edge-replicated padding was no better).
    """
    import dlib

    shape = _shape_predictor()(crop, dlib.rectangle(*ALIGNED_BOX))
    chip = dlib.get_face_chip(crop, shape, size=DLIB_CHIP_SIZE, padding=DLIB_CHIP_PADDING)
    identity = np.hstack([np.eye(2), np.zeros((2, 1))])
    return AlignedFace(crop.copy(), chip, _points(shape), identity, (0, 0, CROP_SIZE, CROP_SIZE), 1, False)


def align_face(image: np.ndarray, *, aligned: bool = False) -> AlignedFace:
    """Detect faces in an RGB photo and align the largest.

    With ``aligned=True`` (the caller says its images are aligned ArcFace crops, the
    CASIA / insightface dataset form), a photo of exactly 112x112 skips detection and is
    used as is. Without it every photo goes through detection, so a 112x112 image
    without a face is a NoFaceError, not a meaningless template. Photos over MAX_SIDE are shrunk
    for detection and alignment; landmarks and box are mapped back to the photo.
    With several faces the largest is aligned and ``n_faces`` says how many there were.
    Raises NoFaceError (HTTP 422) when no face is found.
    """
    image = _rgb(image)
    if aligned and image.shape[:2] == (CROP_SIZE, CROP_SIZE):
        return _aligned_crop_face(image)
    work, factor = _working_copy(image)
    rects = _detect(work)
    if not rects:
        raise NoFaceError("no face found: use a clear, front-facing photo with the face at least 80 px wide")
    shape = _shape_predictor()(work, rects[0])
    return _face(work, shape, factor, _box(rects[0], factor), len(rects), True)


def portable_face(image: np.ndarray, *, aligned: bool = False) -> AlignedFace:
    """``align_face`` with the portable pipeline (portable_faces.py, the browser's): the same
    AlignedFace, its crop from the ONNX detector and landmarks, ``landmarks`` ArcFace's five
    points (eyes, nose tip, mouth corners) and no dlib chip. A 112x112 photo with ``aligned``
    is used as is, as ``align_face`` does."""
    from inference.engine import portable_faces

    image = _rgb(image)
    if aligned and image.shape[:2] == (CROP_SIZE, CROP_SIZE):
        identity = np.hstack([np.eye(2), np.zeros((2, 1))])
        return AlignedFace(image.copy(), NO_CHIP, portable_faces.PORTABLE_TARGETS.copy(), identity,
                           (0, 0, CROP_SIZE, CROP_SIZE), 1, False)
    face = portable_faces.align_face(image)
    if face is None:
        raise NoFaceError("no face found: use a clear, front-facing photo with the face at least 80 px wide")
    box = tuple(int(round(v)) for v in face.box)
    return AlignedFace(face.crop, NO_CHIP, face.points5, face.transform, box, face.n_faces, True)


def align_face_bytes(data: bytes, *, aligned: bool = False, faces: str = DLIB) -> AlignedFace:
    """``align_face`` (or ``portable_face`` when ``faces`` is "portable") on uploaded bytes
    (see face_image.load_image for the 400/415 errors)."""
    if faces not in PIPELINES:
        raise UserError(f"faces must be one of {', '.join(PIPELINES)}, got {faces!r}")
    image = load_image(data)
    return portable_face(image, aligned=aligned) if faces == PORTABLE else align_face(image, aligned=aligned)
