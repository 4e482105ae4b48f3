"""Geometry of the 112x112 ArcFace crop: template, dlib point mapping, similarity fit, warp.

dlib's 5-point model does not give ArcFace's five points. Its points, in order, are
(sides as seen in the image): 0 right eye outer corner, 1 right eye inner corner,
2 left eye outer corner, 3 left eye inner corner, 4 nose base (subnasale). There are
no mouth corners, and the nose base sits ~9 px (in the 112 crop) below ArcFace's nose
tip. So the fit uses three points we can map reliably -- the two eye centres (midpoint
of each eye's corners) and the nose base -- onto ``DLIB_TARGETS``: where those points
land, on average, when a face is aligned with all five ArcFace points. The targets were
measured on the 48 labelled fixture photos (``shared/fixtures/faces``) by aligning
each with ArcFace's points taken from dlib's 68-point model (eye-contour centroids,
nose tip 30, mouth corners 48/54); per-photo spread is about 1 px. See docs/faces.md.
"""

from __future__ import annotations

import numpy as np

CROP_SIZE = 112

# insightface's arcface_dst: left eye, right eye, nose tip, left/right mouth corner.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# Targets in the 112 crop for (left eye centre, right eye centre, nose base) from dlib's points.
DLIB_TARGETS = np.array([[37.9, 53.4], [74.2, 53.5], [55.6, 80.8]], dtype=np.float64)

# Where dlib's HOG box sits in the 112 crop on average (same calibration): the landmark
# model needs a box, and an already-aligned crop has none.
ALIGNED_BOX = (12, 26, 99, 117)  # left, top, right, bottom


def eye_centres(points: np.ndarray) -> np.ndarray:
    """(left, right) eye centres, image sides, from dlib's 5 points (midpoint of the corners)."""
    points = np.asarray(points, dtype=np.float64)
    return np.stack([points[2:4].mean(axis=0), points[0:2].mean(axis=0)])


def fit_points(points: np.ndarray) -> np.ndarray:
    """dlib's 5 points -> the 3 points fitted to DLIB_TARGETS (left eye, right eye, nose base)."""
    points = np.asarray(points, dtype=np.float64)
    return np.vstack([eye_centres(points), points[4:5]])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) mapping src onto dst, as a 2x3 matrix.

    Umeyama's closed form: deterministic, unlike cv2.estimateAffinePartial2D whose
    default RANSAC would drop one of only three points.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(d.T @ s / len(src))
    flip = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection is not a similarity
        flip[1, 1] = -1
    rot = u @ flip @ vt
    scale = np.trace(np.diag(sig) @ flip) / s.var(axis=0).sum()
    shift = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, shift[:, None]])


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 2x3 affine matrix."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_crop(image: np.ndarray, matrix: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """The size x size crop that ``matrix`` maps the image onto (black outside the photo)."""
    import cv2

    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.5:
        # Bilinear warping aliases when shrinking more than 2x; shrink with area
        # averaging first so the warp itself only scales by ~0.5.
        factor = 2 * scale
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        matrix = np.hstack([matrix[:, :2] / factor, matrix[:, 2:]])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
