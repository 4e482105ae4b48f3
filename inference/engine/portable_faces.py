"""Face detection, 68 landmarks and ArcFace alignment that the browser reproduces exactly.

The same two ONNX files (face_models/, converted from face-api's TF.js weights) run in
onnxruntime here and in onnxruntime-web in the browser; everything around them is plain
arithmetic written identically here and in ``frontend/src/private/faces.ts``:

1. ``warp_affine``: one bilinear resampler for every resize and the final crop (pixel
   centres at integers, as cv2; black outside the photo; k x k supersampling when the
   warp shrinks more than 2x). It replaces cv2 so that both sides compute the same sums
   in the same order in float64.
2. Detector input: the photo at the top-left of a black square, resized to 416
   (face-api's ``padToSquare`` + resize); ``decode_grid`` turns the 13x13x5 anchors into
   boxes (sigmoid / exp, face-api's anchors), ``nms_groups`` groups them (IoU 0.4) and each
   face's box is its group's weighted mean (``merged_box``).
3. The largest box, centred in a square and resized to 112, gives 68 landmarks; their
   eye-contour centroids, nose tip (30) and mouth corners (48, 54) are ArcFace's five points.
4. ``face_align.similarity_transform`` onto ``PORTABLE_TARGETS`` and ``warp_affine`` to the
   112x112 crop, rounded ``floor(v + 0.5)``.

onnxruntime is imported lazily and each model is loaded once per process.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.engine.face_align import CROP_SIZE, similarity_transform

MODELS = Path(__file__).resolve().parent / "face_models"
# What a gallery's private_search block names: bump it when anything below changes the crop
# (a browser must then not search galleries enrolled with the older crops).
PIPELINE = "portable-1"
DETECTOR_FILE, LANDMARKS_FILE = "tiny_face_detector.onnx", "face_landmark_68.onnx"
MODEL_FILES = (DETECTOR_FILE, LANDMARKS_FILE)  # the only files GET /api/face-models/<name> serves
DETECTOR_SIZE = 416
LANDMARK_SIZE = 112
# face-api's default is 0.5, but two fixture faces score 0.51 and 0.52 and +-2 levels of
# pixel noise (a different JPEG decoder) pushes one under it; down to 0.25 no extra box
# appears on any fixture photo, so 0.3 leaves margin on both sides.
SCORE_THRESHOLD = 0.3
IOU_THRESHOLD = 0.4  # src/tinyFaceDetector/const.ts
ANCHORS = ((1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061),
           (4.266906, 5.178857), (9.041765, 10.66308))

# Where face-api's five points land in the 112 crop when a face is aligned as the server's
# dlib path aligns it (face_align.DLIB_TARGETS, itself calibrated on ArcFace's points from
# dlib's 68): face-api's model puts the mouth corners ~2.5 px higher and wider and the nose
# tip ~2 px lower than dlib's 68-point model does, so ArcFace's template itself would give a
# differently framed crop. Mean over the 48 labelled fixture photos (insightface's
# arcface_dst + the mean offset), rounded to 0.1 px; per-photo spread 0.7 px (eyes) to
# 2.5 px (mouth). See docs/browser-search.md.
PORTABLE_TARGETS = np.array(
    [[36.8, 51.3], [73.4, 51.6], [54.5, 73.9], [39.1, 89.6], [71.9, 89.9]], dtype=np.float64
)


@dataclass(frozen=True, eq=False)
class PortableFace:
    """One aligned face and how it was found (photo coordinates, pixel centres at integers)."""

    crop: np.ndarray  # (112, 112, 3) uint8 RGB in the ArcFace template
    points5: np.ndarray  # (5, 2): left eye, right eye (image sides), nose tip, mouth left, right
    landmarks: np.ndarray  # (68, 2)
    transform: np.ndarray  # (2, 3) photo -> crop
    box: tuple[float, float, float, float]  # left, top, right, bottom
    score: float
    n_faces: int


@functools.cache
def model_info(name: str) -> dict:
    """{"path", "sha256", "bytes"} of one of MODEL_FILES (hashed once per process); KeyError for
    any other name, so no caller's string ever becomes a path."""
    import hashlib

    if name not in MODEL_FILES:
        raise KeyError(name)
    path = MODELS / name
    data = path.read_bytes()
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


@functools.cache
def _session(name: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # a few ms per photo; workers already run in parallel
    return ort.InferenceSession(str(MODELS / name), options, providers=["CPUExecutionProvider"])


def _inverse(matrix: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """The inverse of a 2x3 affine matrix, spelled out as faces.ts does (no LAPACK)."""
    a, b, c = (float(v) for v in matrix[0])
    d, e, f = (float(v) for v in matrix[1])
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f)


def supersampling(matrix: np.ndarray) -> int:
    """Samples per axis per output pixel: 1 unless the warp shrinks more than 2x."""
    a, b = float(matrix[0][0]), float(matrix[0][1])
    d, e = float(matrix[1][0]), float(matrix[1][1])
    scale = math.sqrt(abs(a * e - b * d))
    return max(1, math.ceil(0.5 / scale - 1e-9))


def warp_affine(image: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """(height, width, 3) float64: output pixel (x, y) samples the photo at matrix^-1 (x, y)."""
    src = np.asarray(image, dtype=np.float64)
    h, w = src.shape[:2]
    ia, ib, ic, id_, ie, if_ = _inverse(np.asarray(matrix, dtype=np.float64))
    k = supersampling(matrix)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    out = np.zeros((height, width, 3))
    for sy in range(k):
        oy = (sy + 0.5) / k - 0.5
        for sx in range(k):
            ox = (sx + 0.5) / k - 0.5
            px, py = xs + ox, ys + oy
            u = ia * px + ib * py + ic
            v = id_ * px + ie * py + if_
            x0, y0 = np.floor(u), np.floor(v)
            fx, fy = u - x0, v - y0
            x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
            acc = np.zeros((height, width, 3))
            for dy, wy in ((0, 1.0 - fy), (1, fy)):
                for dx, wx in ((0, 1.0 - fx), (1, fx)):
                    xi, yi = x0 + dx, y0 + dy
                    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
                    pixel = src[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)] * inside[..., None]
                    acc = acc + pixel * (wy * wx)[..., None]
            out = out + acc
    return out / (k * k)


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def square_transform(left: float, top: float, side: float, size: int) -> np.ndarray:
    """Maps the square [left, left + side) x [top, top + side) (pixel edges) onto size x size."""
    s = size / side
    return np.array([[s, 0.0, (0.5 - left) * s - 0.5], [0.0, s, (0.5 - top) * s - 0.5]])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def decode_grid(grid: np.ndarray, side: float, score_threshold: float = SCORE_THRESHOLD):
    """Detector output (cells, cells, 25) -> (boxes (N, 4) left, top, right, bottom in photo
    coordinates, scores (N,)), in cell-row, cell-column, anchor order (face-api's extractBoxes)."""
    grid = np.asarray(grid, dtype=np.float64)
    cells = grid.shape[0]
    grid = grid.reshape(cells, cells, len(ANCHORS), 5)
    scores = _sigmoid(grid[..., 4])
    rows, cols, anchors = np.nonzero(scores > score_threshold)
    t = grid[rows, cols, anchors]
    anchor = np.array(ANCHORS)[anchors]
    cx = (cols + _sigmoid(t[:, 0])) / cells
    cy = (rows + _sigmoid(t[:, 1])) / cells
    bw = np.exp(t[:, 2]) * anchor[:, 0] / cells
    bh = np.exp(t[:, 3]) * anchor[:, 1] / cells
    left, top = cx - bw / 2, cy - bh / 2
    # Relative to the padded square; edge coordinates -> pixel-centre coordinates.
    boxes = np.stack([left, top, left + bw, top + bh], axis=1) * side - 0.5
    return boxes, scores[rows, cols, anchors]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return float(inter / (area_a + area_b - inter))


def nms_groups(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = IOU_THRESHOLD) -> list[list[int]]:
    """Greedy non-maximum suppression, best score first (ties: lower index first); each group is
    the kept index followed by the indices it suppressed, in score order."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    groups: list[list[int]] = []
    while order:
        best = order.pop(0)
        group, rest = [best], []
        for i in order:
            (group if iou(boxes[best], boxes[i]) > iou_threshold else rest).append(i)
        groups.append(group)
        order = rest
    return groups


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = IOU_THRESHOLD) -> list[int]:
    """The indices NMS keeps, best score first."""
    return [group[0] for group in nms_groups(boxes, scores, iou_threshold)]


def merged_box(boxes: np.ndarray, scores: np.ndarray, group: list[int],
               score_threshold: float = SCORE_THRESHOLD) -> tuple[float, float, float, float]:
    """A group's boxes averaged, each weighted by how far its score clears the threshold.

    Plain NMS keeps one anchor's box, and two near-equal anchors can swap under +-2 levels of
    pixel noise (another JPEG decoder): the box jumps ~10 px, the landmarks ~2 px. The weighted
    mean moves smoothly, and a box crossing the threshold enters with weight ~0 (measured on
    the fixtures, 3 noise draws: worst point shift 1.93 px with plain NMS, 1.38 px weighting
    by score, 0.83 px weighting by score - threshold). Sums run in group order, as in faces.ts.
    """
    total = 0.0
    acc = [0.0, 0.0, 0.0, 0.0]
    for i in group:
        weight = float(scores[i]) - score_threshold
        total += weight
        for j in range(4):
            acc[j] += weight * float(boxes[i][j])
    return (acc[0] / total, acc[1] / total, acc[2] / total, acc[3] / total)


def detect(image: np.ndarray) -> list[tuple[tuple[float, float, float, float], float]]:
    """(box, score) of every face, largest box first (ties: higher score first); each box is
    its NMS group's weighted mean, its score the group's best."""
    image = _rgb(image)
    side = float(max(image.shape[:2]))
    pixels = warp_affine(image, square_transform(0.0, 0.0, side, DETECTOR_SIZE), DETECTOR_SIZE, DETECTOR_SIZE)
    grid = _session(DETECTOR_FILE).run(None, {"image": pixels[None].astype(np.float32)})[0][0]
    boxes, scores = decode_grid(grid, side)
    found = [(merged_box(boxes, scores, g), float(scores[g[0]])) for g in nms_groups(boxes, scores)]
    found.sort(key=lambda f: -((f[0][2] - f[0][0]) * (f[0][3] - f[0][1])))
    return found


def landmark_square(box: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """(left, top, side) in pixel-edge coordinates: the box centred in a square (face-api pads the
    face crop to a square, centred)."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    cx, cy = (left + right) / 2 + 0.5, (top + bottom) / 2 + 0.5
    return cx - side / 2, cy - side / 2, side


def landmarks68(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """(68, 2) landmarks in photo pixel-centre coordinates."""
    left, top, side = landmark_square(box)
    pixels = warp_affine(image, square_transform(left, top, side, LANDMARK_SIZE), LANDMARK_SIZE, LANDMARK_SIZE)
    rel = _session(LANDMARKS_FILE).run(None, {"image": pixels[None].astype(np.float32)})[0][0]
    rel = rel.astype(np.float64).reshape(68, 2)
    return np.stack([left + rel[:, 0] * side - 0.5, top + rel[:, 1] * side - 0.5], axis=1)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """ArcFace's five points from the 68: eye-contour centroids (36-41, 42-47), nose tip 30,
    mouth corners 48 and 54. Sums run in index order, as in faces.ts."""
    lm = np.asarray(landmarks, dtype=np.float64)

    def centroid(lo: int, hi: int) -> list[float]:
        sx = sy = 0.0
        for i in range(lo, hi):
            sx += float(lm[i, 0])
            sy += float(lm[i, 1])
        return [sx / (hi - lo), sy / (hi - lo)]

    return np.array([centroid(36, 42), centroid(42, 48), list(lm[30]), list(lm[48]), list(lm[54])])


def align(image: np.ndarray, points5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(crop (112, 112, 3) uint8, transform (2, 3)) for the five points."""
    matrix = similarity_transform(points5, PORTABLE_TARGETS)
    return to_uint8(warp_affine(image, matrix, CROP_SIZE, CROP_SIZE)), matrix


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    return image


def align_face(image: np.ndarray) -> PortableFace | None:
    """The largest face in an RGB photo, aligned; None when the detector finds none."""
    image = _rgb(image)
    found = detect(image)
    if not found:
        return None
    box, score = found[0]
    landmarks = landmarks68(image, box)
    points = five_points(landmarks)
    crop, matrix = align(image, points)
    return PortableFace(crop, points, landmarks, matrix, box, score, len(found))
