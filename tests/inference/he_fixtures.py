"""Shared builders for the encrypted-search tests (small, still 128-bit secure)."""

from __future__ import annotations

import numpy as np

from inference.engine.gallery import Gallery
from inference.engine.he_layout import SearchProfile
from inference.engine.he_params import PRESETS

# 4096/109 bits is the smallest 128-bit set that fits the search; 128 dims is dlib's size.
SMALL = PRESETS["ckks-4096"]
DIM = 128


def random_gallery(n: int, dim: int = DIM, seed: int = 0) -> Gallery:
    rng = np.random.default_rng(seed)
    return Gallery.from_arrays(rng.standard_normal((n, dim)), [f"id{i}" for i in range(n)])


def noisy_copies(gallery: Gallery, idx: list[int], noise: float = 0.5, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    jitter = rng.standard_normal((len(idx), gallery.dim))
    jitter *= noise / np.linalg.norm(jitter, axis=1, keepdims=True)
    return gallery.embeddings[idx] + jitter


def small_profile(gallery: Gallery) -> SearchProfile:
    return SearchProfile.for_gallery(len(gallery), gallery.dim, SMALL)
