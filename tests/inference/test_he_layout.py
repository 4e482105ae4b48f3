"""The slot layout math, checked in plain numpy (no HE)."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine.he_layout import (
    SearchProfile,
    block_count,
    choose_giant_step,
    diagonal_block,
    replicate_query,
    rotation_count,
    shard_ranges,
    simulate_block,
)
from inference.engine.he_params import PRESETS

PARAMS = PRESETS["ckks-4096"]  # 2048 slots, 4096 entries per block


@pytest.mark.parametrize(
    ("rows", "dim", "giant_step"),
    [(4096, 128, 16), (4096, 128, 1), (4096, 128, 128), (1000, 100, 8), (3000, 512, 32)],
)
def test_block_layout_computes_matrix_vector_product(rows: int, dim: int, giant_step: int) -> None:
    rng = np.random.default_rng(rows + dim)
    block = rng.standard_normal((rows, dim))
    query = rng.standard_normal(dim)
    profile = SearchProfile(PARAMS, dim, giant_step)
    diags = diagonal_block(block, profile)
    got = simulate_block(diags, replicate_query(query, profile.dim_pad, PARAMS.slots), giant_step)
    np.testing.assert_allclose(got[:rows], block @ query, atol=1e-9)
    np.testing.assert_allclose(got[rows:], 0, atol=1e-12)


def test_giant_step_minimises_rotations() -> None:
    for n_blocks in (1, 13, 100):
        best = choose_giant_step(512, n_blocks)
        assert all(rotation_count(512, n_blocks, best) <= rotation_count(512, n_blocks, 1 << k) for k in range(10))


def test_shard_ranges_cover_every_block_once() -> None:
    n = 50_000
    for shards in (1, 3, 7, 100):
        ranges = shard_ranges(n, PARAMS.slots, shards)
        covered = [b for start, stop in ranges for b in range(start, stop)]
        assert covered == list(range(block_count(n, PARAMS.slots)))


def test_profile_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        SearchProfile(PARAMS, 4096, 1)  # dim padded past the slot count
    with pytest.raises(ValueError):
        SearchProfile(PARAMS, 128, 3)  # giant step must be a power of two
