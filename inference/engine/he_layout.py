"""Slot layout for encrypted 1:N search (numpy only, no HE library needed).

CKKS slots are complex, so one block packs 2*slots gallery entries: entry i
of the first half goes to the real part of slot i, entry i of the second half
to the imaginary part. The query is real, so a slot product
q * (g + i*g') = q*g + i*q*g' scores both halves at once, doubling the work
done by every plaintext multiply.

For one block M (slots x D, complex) the server computes all its scores with
the diagonal method:

    scores = sum_r P_r * rot(q_rep, r),   P_r[i] = M[i, (i + r) mod D]

where q_rep is the query repeated slots/D times, so rotating it by r lines up
feature (i + r) mod D with entry i. Baby-step/giant-step splits r = g*b + a:
the b baby rotations of the query are shared by every block, and each block
pays only D/b - 1 giant rotations of its partial sums (Horner form):

    scores = sum_g rot(sum_a P'_{g,a} * rot(q_rep, a), g*b),
    P'_{g,a} = rot(P_{g*b+a}, -g*b)

so per block the cost is D plaintext multiplies (no key switching) and the
rotations stay few. `simulate_block` mirrors the server loop in plain numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.engine.he_params import HEParams, InsecureParametersError


def padded_dim(dim: int) -> int:
    """Next power of two: rotations wrap at the slot count, so D must divide it."""
    if dim < 1:
        raise ValueError("dim must be positive")
    return 1 << (dim - 1).bit_length()


def block_size(slots: int) -> int:
    """Gallery entries per block: real and imaginary part of every slot."""
    return 2 * slots


def block_count(n_entries: int, slots: int) -> int:
    return max(1, -(-n_entries // block_size(slots)))


def rotation_count(dim_pad: int, n_blocks: int, giant_step: int) -> int:
    """Key switches per query for one shard of n_blocks blocks."""
    return (giant_step - 1) + n_blocks * (dim_pad // giant_step - 1)


def choose_giant_step(dim_pad: int, n_blocks: int) -> int:
    """Power-of-two baby-step count b minimising (b - 1) + n_blocks * (D/b - 1)."""
    steps = [1 << k for k in range(dim_pad.bit_length()) if (1 << k) <= dim_pad]
    return min(steps, key=lambda b: (rotation_count(dim_pad, n_blocks, b), b))


@dataclass(frozen=True)
class SearchProfile:
    """What client and server must agree on: parameters, dimension, giant step.

    The server publishes it for a gallery; the client makes Galois keys for
    exactly the rotations the profile needs (steps 1 and giant_step).
    """

    params: HEParams
    dim: int
    giant_step: int

    def __post_init__(self) -> None:
        dim_pad = padded_dim(self.dim)
        if dim_pad > self.params.slots:
            raise ValueError(f"dim {self.dim} does not fit {self.params.slots} slots")
        b = self.giant_step
        if b < 1 or b & (b - 1) or b > dim_pad:
            raise ValueError(f"giant_step {b} must be a power of two <= {dim_pad}")

    @property
    def dim_pad(self) -> int:
        return padded_dim(self.dim)

    @property
    def slots(self) -> int:
        return self.params.slots

    @property
    def giant_count(self) -> int:
        return self.dim_pad // self.giant_step

    @property
    def rotation_steps(self) -> tuple[int, ...]:
        """Galois-key steps the server needs: 1 for baby steps, b for giant steps."""
        steps = {1} if self.giant_step > 1 else set()
        if self.giant_count > 1:
            steps.add(self.giant_step)
        return tuple(sorted(steps))

    @classmethod
    def for_gallery(cls, n_entries: int, dim: int, params: HEParams) -> SearchProfile:
        dim_pad = padded_dim(dim)
        n_blocks = block_count(n_entries, params.slots)
        return cls(params, dim, choose_giant_step(dim_pad, n_blocks))

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(), "dim": self.dim, "giant_step": self.giant_step}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchProfile:
        try:
            params = HEParams.from_dict(data["params"])
            return cls(params, int(data["dim"]), int(data["giant_step"]))
        except (KeyError, TypeError) as exc:
            raise InsecureParametersError(f"malformed profile: {exc}") from exc


def shard_ranges(n_entries: int, slots: int, n_shards: int) -> list[tuple[int, int]]:
    """Split the gallery's blocks into n_shards contiguous [start, stop) block ranges."""
    n_blocks = block_count(n_entries, slots)
    n_shards = max(1, min(n_shards, n_blocks))
    edges = np.linspace(0, n_blocks, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def replicate_query(query: np.ndarray, dim_pad: int, slots: int) -> np.ndarray:
    """Query zero-padded to dim_pad and tiled over all slots."""
    q = np.zeros(dim_pad)
    q[: query.shape[0]] = query
    return np.tile(q, slots // dim_pad)


def diagonal_block(block: np.ndarray, profile: SearchProfile) -> np.ndarray:
    """Complex plaintext vectors P'_{g,a} for one block, shape (D/b, b, slots).

    `block` is (rows <= 2*slots, dim); missing rows and dims are zero padding.
    """
    slots, dim_pad, b = profile.slots, profile.dim_pad, profile.giant_step
    rows = np.zeros((block_size(slots), dim_pad))
    rows[: block.shape[0], : block.shape[1]] = block
    m = rows[:slots] + 1j * rows[slots:]
    cols = (np.arange(slots)[:, None] + np.arange(dim_pad)[None, :]) % dim_pad
    diags = np.take_along_axis(m, cols, axis=1).T  # row r holds P_r
    diags = diags.reshape(profile.giant_count, b, slots)
    for g in range(1, profile.giant_count):
        # rot(x, -k) == np.roll(x, k): pre-rotate so the giant rotation lands it.
        diags[g] = np.roll(diags[g], g * b, axis=1)
    return diags


def simulate_block(diags: np.ndarray, query_rep: np.ndarray, giant_step: int) -> np.ndarray:
    """Plain-numpy twin of the server's per-block loop (rot(x, k) = np.roll(x, -k)).

    Returns the block's 2*slots scores, unpacked like `unpack_block`.
    """
    babies = [np.roll(query_rep, -a) for a in range(giant_step)]
    acc = None
    for g in reversed(range(diags.shape[0])):
        inner = sum(diags[g, a] * babies[a] for a in range(giant_step))
        acc = inner if acc is None else np.roll(acc, -giant_step) + inner
    return unpack_block(acc)


def unpack_block(slot_values: np.ndarray) -> np.ndarray:
    """Complex slot scores -> 2*slots entry scores (real half, then imaginary half)."""
    return np.concatenate([slot_values.real, slot_values.imag])
