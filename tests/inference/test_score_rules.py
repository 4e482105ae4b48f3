"""The two score rules: cosine on unit vectors, and dlib's Euclidean distance on its raw
descriptors (scaled), which encrypted search serves as q . g plus plaintext norms."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine.embedders import (
    DlibResNetEmbedder,
    DlibResNetL2Embedder,
    reference_by_name,
    reference_embedder,
    reference_l2_embedder,
)
from inference.engine.enroll import mean_templates
from inference.engine.gallery import Gallery, similarities, squared_norms, to_scores
from inference.engine.he_client import HEClient
from inference.engine.he_server import load_public_context, prepare_shard, score_query

from .he_fixtures import small_profile


def test_it_keeps_dlibs_rule_and_its_threshold_on_one_scale():
    l2 = reference_l2_embedder()
    assert l2.score_rule == "euclidean" and l2.metadata["score"] == "euclidean"
    assert "score" not in reference_embedder().metadata  # cosine galleries keep their metadata
    # dlib: same person when L2 < 0.6 on raw descriptors; the score says >= 0.92.
    q, g = np.zeros(128), np.zeros(128)
    g[0] = 0.6
    score = similarities((q * l2.SCALE)[None], (g * l2.SCALE)[None], "euclidean")[0, 0]
    assert score == pytest.approx(l2.default_threshold, abs=1e-9) and l2.default_threshold == 0.92
    assert reference_by_name("dlib-resnet-v1") is reference_embedder()
    assert reference_by_name("dlib-resnet-v1-l2") is l2 and reference_by_name("keras:x") is None
    assert isinstance(l2, DlibResNetEmbedder) and isinstance(l2, DlibResNetL2Embedder)


def test_euclidean_similarity_is_cosine_on_unit_vectors_and_minus_half_the_squared_distance():
    rng = np.random.default_rng(0)
    q, t = rng.standard_normal((3, 16)), rng.standard_normal((5, 16))
    d2 = np.sum((q[:, None] - t[None]) ** 2, axis=-1)
    np.testing.assert_allclose(similarities(q, t, "euclidean"), 1 - d2 / 2)
    unit_q, unit_t = q / np.linalg.norm(q, axis=1, keepdims=True), t / np.linalg.norm(t, axis=1, keepdims=True)
    np.testing.assert_allclose(similarities(unit_q, unit_t, "euclidean"), unit_q @ unit_t.T, atol=1e-12)
    np.testing.assert_allclose(to_scores(q[0] @ t.T, q[0], squared_norms(t), "euclidean"),
                               similarities(q[:1], t, "euclidean")[0])
    with pytest.raises(ValueError):
        to_scores(q[0] @ t.T, q[0], None, "euclidean")
    # Mean templates: the plain mean under dlib's rule, the renormalised mean under cosine.
    sums, counts = np.array([[2.0, 0, 0], [0, 3.0, 0]]), np.array([2, 3])
    np.testing.assert_allclose(mean_templates(sums, counts, "euclidean"), [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_allclose(mean_templates(sums * 5, counts, "cosine"), [[1, 0, 0], [0, 1, 0]])


def test_encrypted_scores_of_unnormalised_vectors_plus_norms_equal_the_plaintext_rule():
    rng = np.random.default_rng(3)
    # dlib-like: scaled raw descriptors of norm ~0.9-1.1, not unit.
    raw = rng.standard_normal((200, 128))
    templates = raw / np.linalg.norm(raw, axis=1, keepdims=True) * rng.uniform(0.9, 1.1, (200, 1))
    gallery = Gallery(templates.astype(np.float32), tuple(f"id{i}" for i in range(200)))
    profile = small_profile(gallery)
    client = HEClient(profile)
    shard = prepare_shard(gallery, profile)
    query = templates[17] + 0.05 * rng.standard_normal(128)
    payload = score_query(load_public_context(client.public_context()), shard,
                          client.encrypt_query(query, normalise=False))
    scores = to_scores(client.decrypt_scores([payload], len(gallery)), query, squared_norms(gallery.embeddings),
                       "euclidean")
    plain = similarities(query[None], gallery.embeddings, "euclidean")[0]
    assert np.max(np.abs(scores - plain)) < 1e-3
    assert int(np.argmax(scores)) == 17
    with pytest.raises(ValueError, match="norm at most"):
        client.encrypt_query(query * 10, normalise=False)
