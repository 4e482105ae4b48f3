"""Which examples go into each batch: Poisson sampling for DP-SGD, shuffling otherwise.

The RDP/PLD accounting of a DP-SGD step assumes Poisson sampling: every example joins the
batch independently with probability q, so batch sizes vary (Binomial(N, q)) and a batch
may be empty. Shuffled fixed-size batches would need a different (weaker) analysis.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def poisson_batches(
    num_examples: int, sample_rate: float, steps: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """``steps`` sorted index arrays; each index is included independently with ``sample_rate``.

    Drawn as a Binomial(N, q) size and then a uniform subset of that size, which is the same
    distribution as N coin flips but costs O(batch) rather than O(N) per step.
    """
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
    for _ in range(steps):
        size = int(rng.binomial(num_examples, sample_rate))
        yield np.sort(rng.choice(num_examples, size=size, replace=False))


def shuffled_batches(num_examples: int, batch_size: int, epochs: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Non-DP batches: each epoch a fresh permutation cut into ``batch_size`` pieces (last may be short)."""
    for _ in range(epochs):
        order = rng.permutation(num_examples)
        for start in range(0, num_examples, batch_size):
            yield np.sort(order[start : start + batch_size])
