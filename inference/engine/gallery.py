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
        raise ValueError("the model gives a zero-length embedding for this image")
    return x / norms


def squared_norms(templates: np.ndarray) -> np.ndarray:
    return np.sum(np.square(np.asarray(templates, np.float64)), axis=-1)


def to_scores(dots: np.ndarray, query: np.ndarray, template_sq_norms: np.ndarray | None, rule: str) -> np.ndarray:
    """Dot products q . g (what the encrypted search computes) -> the gallery's scores.

    cosine: the dots themselves (unit vectors). euclidean: 1 - |q - g|^2 / 2
    = 1 + q . g - |q|^2 / 2 - |g|^2 / 2, which needs only the templates' squared norms.
    """
    dots = np.asarray(dots, np.float64)
    if rule == "cosine":
        return dots
    if rule != "euclidean":
        raise ValueError(f"unknown score rule {rule!r}")
    if template_sq_norms is None:
        raise ValueError("the euclidean rule needs the templates' squared norms")
    q2 = float(np.sum(np.square(np.asarray(query, np.float64))))
    return 1.0 + dots - 0.5 * q2 - 0.5 * np.asarray(template_sq_norms, np.float64)


def similarities(queries: np.ndarray, templates: np.ndarray, rule: str = "cosine") -> np.ndarray:
    """(Q, N) scores of queries against templates under ``rule`` (plaintext)."""
    queries, templates = np.asarray(queries, np.float64), np.asarray(templates, np.float64)
    dots = queries @ templates.T
    if rule == "cosine":
        return dots
    return 1.0 + dots - 0.5 * squared_norms(queries)[:, None] - 0.5 * squared_norms(templates)[None, :]


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
