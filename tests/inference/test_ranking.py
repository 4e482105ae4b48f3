"""Top-k ranking and gallery normalisation (plaintext reference path)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine.gallery import Gallery, l2_normalise
from inference.engine.ranking import top_k


def test_top_k_orders_and_thresholds() -> None:
    scores = np.array([0.1, 0.9, 0.4, 0.7])
    labels = ["a", "b", "c", "d"]
    assert [m.label for m in top_k(scores, labels, 3)] == ["b", "d", "c"]
    assert [m.label for m in top_k(scores, labels, 3, threshold=0.5)] == ["b", "d"]
    assert top_k(scores, labels, 3, threshold=0.95) == []
    assert len(top_k(scores, labels, 10)) == 4


def test_gallery_rows_are_unit_length() -> None:
    gallery = Gallery.from_arrays(np.array([[3.0, 4.0], [0.0, 2.0]]), ["x", "y"])
    np.testing.assert_allclose(np.linalg.norm(gallery.embeddings, axis=1), 1.0, rtol=1e-6)
    assert gallery.search(np.array([0.0, 1.0]), 1)[0].label == "y"
    with pytest.raises(ValueError):
        l2_normalise(np.zeros(3))
