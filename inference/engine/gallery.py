"""Plaintext gallery: L2-normalised template matrix plus labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inference.engine.ranking import Match, top_k


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so dot products are cosine similarities."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("zero-length embedding")
    return x / norms


@dataclass(frozen=True)
class Gallery:
    embeddings: np.ndarray  # (N, D) float32, unit rows
    labels: tuple[str, ...]

    @classmethod
    def from_arrays(cls, embeddings: np.ndarray, labels: Sequence[str]) -> Gallery:
        emb = np.atleast_2d(embeddings)
        if emb.shape[0] != len(labels):
            raise ValueError(f"{emb.shape[0]} embeddings for {len(labels)} labels")
        return cls(l2_normalise(emb).astype(np.float32), tuple(labels))

    def __len__(self) -> int:
        return self.embeddings.shape[0]

    @property
    def dim(self) -> int:
        return self.embeddings.shape[1]

    def scores(self, query: np.ndarray) -> np.ndarray:
        return self.embeddings @ l2_normalise(query).astype(np.float32)

    def search(self, query: np.ndarray, k: int = 5, threshold: float | None = None) -> list[Match]:
        """Plaintext reference search (what the encrypted search must agree with)."""
        return top_k(self.scores(query), self.labels, k, threshold)
