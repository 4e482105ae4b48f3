"""Face verification on insightface ``.bin`` pairs: the standard 10-fold LFW protocol.

As insightface's ``verification.py``: each image's embedding is the sum of the embeddings
of the image and of its mirror image, L2-normalised; a pair's distance is the squared L2
distance (0..4). Accuracy: ten contiguous folds of pairs; on each, the threshold (grid
0, 0.01, .., 3.99) that is most accurate on the other nine folds is applied to it; the
result is the mean and (population) std over folds. TAR at FAR = 1e-3 ("VAL"): per fold,
the largest threshold (grid step 0.001) whose false accept rate on the other nine folds is
at most the target, applied to the held-out fold. insightface interpolates between grid
thresholds there; the difference is below one grid step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

ACCURACY_THRESHOLDS = np.arange(0, 4, 0.01)
VAL_THRESHOLDS = np.arange(0, 4, 0.001)
Embed = Callable[[np.ndarray], np.ndarray]  # float32 normalised images (B, H, W, 3) -> (B, D)


@dataclass(frozen=True)
class VerificationResult:
    accuracy: float
    accuracy_std: float
    threshold: float  # mean of the per-fold best thresholds (squared L2 distance)
    tar: float  # true accept rate at far_target, mean over folds
    tar_std: float
    far: float  # false accept rate actually reached, mean over folds
    far_target: float
    pairs: int
    folds: int
    # Mean of the per-fold thresholds (squared L2) that reach far_target: what a gallery
    # using this model starts from before it is calibrated (cosine = 1 - threshold / 2).
    far_threshold: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _folds(n: int, folds: int) -> list[np.ndarray]:
    if n < folds:
        raise ValueError(f"{folds}-fold verification needs at least {folds} pairs, got {n}")
    # Contiguous folds, the first n % folds one pair longer (sklearn's KFold without shuffle).
    return np.array_split(np.arange(n), folds)


def _accuracy(threshold: float, dist: np.ndarray, same: np.ndarray) -> float:
    return float(np.mean((dist < threshold) == same))


def _val_far(threshold: float, dist: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    accept = dist < threshold
    n_same, n_diff = int(same.sum()), int((~same).sum())
    val = float(np.sum(accept & same)) / n_same if n_same else 0.0
    far = float(np.sum(accept & ~same)) / n_diff if n_diff else 0.0
    return val, far


def _rates(dist: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and FAR at every threshold at once (one sort instead of a loop)."""
    order = np.argsort(dist)
    d, s = dist[order], same[order]
    accepted = np.searchsorted(d, thresholds, side="left")  # pairs with dist < threshold
    true_acc = np.concatenate([[0], np.cumsum(s)])[accepted]
    false_acc = accepted - true_acc
    n_diff = int((~s).sum())
    accuracy = (true_acc + (n_diff - false_acc)) / len(d)
    far = false_acc / n_diff if n_diff else np.zeros(len(thresholds))
    return accuracy, far


def evaluate_pairs(
    embeddings1: np.ndarray,
    embeddings2: np.ndarray,
    issame: np.ndarray,
    folds: int = 10,
    far_target: float = 1e-3,
) -> VerificationResult:
    """10-fold accuracy and TAR@FAR for L2-normalised pair embeddings."""
    same = np.asarray(issame, dtype=bool)
    dist = np.sum(np.square(np.asarray(embeddings1, np.float64) - np.asarray(embeddings2, np.float64)), axis=1)
    accuracies, thresholds, vals, fars, val_thresholds = [], [], [], [], []
    for test in _folds(len(dist), folds):
        train = np.setdiff1d(np.arange(len(dist)), test)
        acc_train, _ = _rates(dist[train], same[train], ACCURACY_THRESHOLDS)
        best = float(ACCURACY_THRESHOLDS[int(np.argmax(acc_train))])  # first best, as insightface
        accuracies.append(_accuracy(best, dist[test], same[test]))
        thresholds.append(best)
        _, far_train = _rates(dist[train], same[train], VAL_THRESHOLDS)
        ok = np.flatnonzero(far_train <= far_target)
        val_threshold = float(VAL_THRESHOLDS[ok[-1]]) if len(ok) else 0.0
        val, far = _val_far(val_threshold, dist[test], same[test])
        val_thresholds.append(val_threshold)
        vals.append(val)
        fars.append(far)
    return VerificationResult(
        accuracy=float(np.mean(accuracies)),
        accuracy_std=float(np.std(accuracies)),
        threshold=float(np.mean(thresholds)),
        tar=float(np.mean(vals)),
        tar_std=float(np.std(vals)),
        far=float(np.mean(fars)),
        far_target=far_target,
        pairs=len(dist),
        folds=folds,
        far_threshold=float(np.mean(val_thresholds)),
    )


def flip_embeddings(embed: Embed, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """L2-normalised ``embed(x) + embed(mirror(x))`` for float32 images, in batches."""
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        summed = np.asarray(embed(batch), np.float64) + np.asarray(embed(batch[:, :, ::-1]), np.float64)
        out.append(summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12))
    return np.concatenate(out) if out else np.zeros((0, 0))


class VerificationSet:
    """A ``.bin`` decoded once (uint8, to keep LFW's 12,000 images at 450 MB) and evaluated on demand."""

    def __init__(self, path: str, image_size: int) -> None:
        # Imported here: the metric above is usable without OpenCV or the dataset engine.
        from datasets.engine.errors import DatasetError
        from datasets.engine.evalbin import read_bin
        from training.engine.pipeline import decode_image

        payloads, issame = read_bin(path)
        self.path = path
        self.issame = np.asarray(issame, dtype=bool)
        if len(self.issame) < 10:  # refuse a .bin too small for the protocol before training
            raise DatasetError(f"{path}: 10-fold verification needs at least 10 pairs, the file has {len(issame)}")
        self.images = np.stack(
            [decode_image(p, image_size, f"{path} image {n}") for n, p in enumerate(payloads)]
        )

    def evaluate(self, embed: Embed, batch_size: int = 256) -> VerificationResult:
        from training.engine.pipeline import normalize

        parts = [
            flip_embeddings(embed, normalize(self.images[s : s + batch_size]), batch_size)
            for s in range(0, len(self.images), batch_size)
        ]
        embeddings = np.concatenate(parts)
        return evaluate_pairs(embeddings[0::2], embeddings[1::2], self.issame)
