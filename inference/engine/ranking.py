"""Top-k ranking with an open-set match threshold (shared by plain and HE search)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Match:
    index: int
    label: str
    score: float


def top_k(scores: np.ndarray, labels: Sequence[str], k: int, threshold: float | None = None) -> list[Match]:
    """Best k entries by cosine score, keeping only those >= threshold.

    An empty list is the open-set answer "no match": the probe is not in the
    gallery, even though some entry always scores highest.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(labels),):
        raise ValueError(f"{scores.shape[0]} scores for {len(labels)} labels")
    k = min(k, scores.shape[0])
    if k <= 0:
        return []
    idx = np.argpartition(-scores, k - 1)[:k]
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return [Match(int(i), labels[i], float(scores[i])) for i in idx if threshold is None or scores[i] >= threshold]
