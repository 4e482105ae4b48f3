"""Pieces of the search protocol shared by the web tier, the worker and the CLI. Django-free.

- ``rank``: decrypted per-template scores -> best score per identity -> top-k over the
  threshold (a gallery in ``all`` mode has several templates per identity).
- ``score_set``: the container the encrypted-search API answers with: every shard's
  ``scores`` payload (he_client.SCORES) in one he_wire payload, with the gallery id,
  version and entry count in its header.
- ``shard_reply``: what a worker pushes to the search's Redis list: ok + timings +
  the shard's scores payload, or an error message.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.engine import he_wire
from inference.engine.he_layout import SearchProfile
from inference.engine.he_params import PRESETS
from inference.engine.ranking import Match, top_k

SCORE_SET = "score_set"
SHARD_REPLY = "shard_reply"
SCORE_DECIMALS = 4  # scores shown are rounded (threat model: decrypted values leak noise)


def profile_for(n_entries: int, dim: int, preset: str) -> SearchProfile:
    """The search profile the server publishes for a gallery of this size."""
    if preset not in PRESETS:
        raise ValueError(f"unknown HE preset {preset!r}; one of {', '.join(PRESETS)}")
    return SearchProfile.for_gallery(n_entries, dim, PRESETS[preset])


def rank(scores: np.ndarray, labels: Sequence[str], k: int, threshold: float | None) -> list[Match]:
    """Top-k identities (best template each) at or above the threshold; [] = no match."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(labels),):
        raise ValueError(f"{scores.shape[0]} scores for {len(labels)} labels")
    best: dict[str, float] = {}
    for label, score in zip(labels, scores.tolist(), strict=True):
        if score > best.get(label, -np.inf):
            best[label] = score
    names = list(best)
    return top_k(np.array([best[n] for n in names]), names, k, threshold)


def matches_json(matches: Sequence[Match]) -> list[dict]:
    return [{"identity": m.label, "score": round(m.score, SCORE_DECIMALS)} for m in matches]


def pack_score_set(gallery_id: int, version: int, entries: int, key_id: str, shards: Sequence[tuple[int, int]],
                   payloads: Sequence[bytes]) -> bytes:
    header = {"gallery": gallery_id, "version": version, "entries": entries, "key_id": key_id,
              "shards": [list(s) for s in shards]}
    return he_wire.pack(SCORE_SET, header, list(payloads))


def unpack_score_set(data: bytes) -> tuple[dict, list[bytes]]:
    return he_wire.unpack(data, SCORE_SET)


def pack_reply(*, ok: bool, payload: bytes = b"", **info) -> bytes:
    return he_wire.pack(SHARD_REPLY, {"ok": ok, **info}, [payload] if ok else [])


def unpack_reply(data: bytes) -> tuple[dict, bytes | None]:
    header, sections = he_wire.unpack(data, SHARD_REPLY)
    return header, (sections[0] if header.get("ok") and sections else None)
