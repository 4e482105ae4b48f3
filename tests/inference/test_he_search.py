"""Encrypted search returns what plaintext search returns."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine import he_wire
from inference.engine.he_client import HEClient
from inference.engine.he_layout import SearchProfile, block_count, shard_ranges
from inference.engine.he_params import DEFAULT_PRESET, PRESETS
from inference.engine.he_server import load_public_context, prepare_shard, score_query

from .he_fixtures import noisy_copies, random_gallery, small_profile

THRESHOLD = 0.5


@pytest.fixture(scope="module")
def small() -> tuple:
    gallery = random_gallery(300)
    profile = small_profile(gallery)
    client = HEClient(profile)
    shard = prepare_shard(gallery, profile)
    return gallery, client, load_public_context(client.public_context()), shard


def _encrypted_search(small: tuple, query: np.ndarray, k: int, threshold: float | None) -> list:
    gallery, client, context, shard = small
    return client.search([score_query(context, shard, client.encrypt_query(query))], gallery.labels, k, threshold)


def test_encrypted_top_k_equals_plaintext_top_k(small: tuple) -> None:
    gallery = small[0]
    rng = np.random.default_rng(5)
    probes = np.vstack([noisy_copies(gallery, list(range(0, 300, 30))), rng.standard_normal((5, gallery.dim))])
    for query in probes:
        encrypted = _encrypted_search(small, query, 5, None)
        plain = gallery.search(query, 5)
        assert [m.index for m in encrypted] == [m.index for m in plain]
        np.testing.assert_allclose([m.score for m in encrypted], [m.score for m in plain], atol=1e-3)


def test_threshold_gives_open_set_no_match(small: tuple) -> None:
    gallery = small[0]
    stranger = np.random.default_rng(9).standard_normal(gallery.dim)  # not enrolled
    assert _encrypted_search(small, stranger, 5, THRESHOLD) == []
    assert gallery.search(stranger, 5, THRESHOLD) == []
    enrolled = noisy_copies(gallery, [42])[0]
    matches = _encrypted_search(small, enrolled, 5, THRESHOLD)
    assert [m.label for m in matches] == ["id42"]


def test_default_preset_at_full_dimension() -> None:
    gallery = random_gallery(500, dim=512, seed=3)
    profile = SearchProfile.for_gallery(len(gallery), 512, PRESETS[DEFAULT_PRESET])
    client = HEClient(profile)
    shard = prepare_shard(gallery, profile)
    query = noisy_copies(gallery, [123])[0]
    scores = client.decrypt_scores(
        [score_query(load_public_context(client.public_context()), shard, client.encrypt_query(query))], len(gallery)
    )
    np.testing.assert_allclose(scores, gallery.scores(query), atol=1e-3)
    assert int(np.argmax(scores)) == 123


@pytest.fixture(scope="module")
def three_blocks() -> tuple:
    gallery = random_gallery(2 * 4096 + 700, seed=4)  # 3 blocks of 4096 entries at 2048 slots
    profile = small_profile(gallery)
    assert block_count(len(gallery), profile.slots) == 3
    client = HEClient(profile)
    return gallery, profile, client, load_public_context(client.public_context())


def test_sharded_scores_merge_to_unsharded(three_blocks: tuple) -> None:
    gallery, profile, client, context = three_blocks
    query = client.encrypt_query(noisy_copies(gallery, [8500])[0])
    whole = client.decrypt_scores([score_query(context, prepare_shard(gallery, profile), query)], len(gallery))
    ranges = shard_ranges(len(gallery), profile.slots, 3)
    parts = [score_query(context, prepare_shard(gallery, profile, a, b), query) for a, b in ranges]
    merged = client.decrypt_scores(reversed(parts), len(gallery))  # arrival order does not matter
    np.testing.assert_allclose(merged, whole, atol=1e-4)
    np.testing.assert_allclose(merged, gallery.scores(noisy_copies(gallery, [8500])[0]), atol=1e-3)
    assert int(np.argmax(merged)) == 8500
    with pytest.raises(he_wire.PayloadError, match="missing"):
        client.decrypt_scores(parts[:2], len(gallery))
    with pytest.raises(he_wire.PayloadError, match="twice"):
        client.decrypt_scores([*parts, parts[0]], len(gallery))
