"""Search server's side of encrypted search: it scores without any secret key.

A worker loads a client's public context (cached by key id), encodes its
gallery shard into plaintexts once (reused for every key and query with the
same profile), and turns an encrypted query into encrypted scores. See
he_layout for the slot layout and the baby-step/giant-step loop.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from inference.engine import he_wire
from inference.engine.gallery import Gallery
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY, SCORES, key_id_of
from inference.engine.he_layout import SearchProfile, block_count, block_size, diagonal_block
from inference.engine.he_params import HEParams, seal_context

if TYPE_CHECKING:
    from tenseal import sealapi

CONTEXT_CACHE_SIZE = 32


@dataclass(frozen=True)
class PublicContext:
    """A client's evaluation keys; holds nothing that can decrypt."""

    key_id: str
    profile: SearchProfile
    galois_keys: Any  # sealapi.GaloisKeys, or None when the profile needs no rotation

    def has_secret_key(self) -> bool:
        return False  # by construction: load_public_context only reads Galois keys


_contexts: OrderedDict[str, PublicContext] = OrderedDict()


@lru_cache(maxsize=8)
def _evaluator(params: HEParams) -> sealapi.Evaluator:
    from tenseal import sealapi

    return sealapi.Evaluator(seal_context(params))


def load_public_context(data: bytes) -> PublicContext:
    """Parse and validate a public context; a small LRU keeps recent keys loaded."""
    from tenseal import sealapi

    key_id = key_id_of(data)
    if key_id in _contexts:
        _contexts.move_to_end(key_id)
        return _contexts[key_id]
    header, sections = he_wire.unpack(data, PUBLIC_CONTEXT)
    profile = SearchProfile.from_dict(header["profile"])  # refuses insecure parameters
    ctx = seal_context(profile.params)
    galois = None
    if profile.rotation_steps:
        if len(sections) != 1:
            raise he_wire.PayloadError("public context needs exactly one Galois key section")
        galois = sealapi.GaloisKeys()
        he_wire.seal_load(lambda p: galois.load(ctx, p), sections[0])
        tool = ctx.key_context_data().galois_tool()
        for step in profile.rotation_steps:
            if not galois.has_key(tool.get_elt_from_step(step)):
                raise he_wire.PayloadError(f"public context lacks the Galois key for step {step}")
    elif sections:
        raise he_wire.PayloadError("unexpected sections in public context")
    context = PublicContext(key_id, profile, galois)
    _contexts[key_id] = context
    if len(_contexts) > CONTEXT_CACHE_SIZE:
        _contexts.popitem(last=False)
    return context


@dataclass(frozen=True)
class PreparedShard:
    """Gallery blocks [start_block, stop_block) encoded as NTT plaintexts, once.

    plaintexts[block][g][a] is P'_{g,a} (None where all-zero: SEAL refuses to
    multiply by zero, and skipping it is free anyway).
    """

    profile: SearchProfile
    start_block: int
    stop_block: int
    plaintexts: list[list[list[Any]]]


def prepare_shard(
    gallery: Gallery, profile: SearchProfile, start_block: int = 0, stop_block: int | None = None
) -> PreparedShard:
    """Encode one shard (a block range) of the gallery for `profile`."""
    from tenseal import sealapi

    if gallery.dim != profile.dim:
        raise ValueError(f"gallery dim {gallery.dim} != profile dim {profile.dim}")
    size = block_size(profile.slots)
    n_blocks = block_count(len(gallery), profile.slots)
    stop_block = n_blocks if stop_block is None else stop_block
    if not 0 <= start_block < stop_block <= n_blocks:
        raise ValueError(f"bad block range {start_block}..{stop_block} of {n_blocks}")
    ctx = seal_context(profile.params)
    encoder = sealapi.CKKSEncoder(ctx)
    parms_id = ctx.last_parms_id()
    scale = 2.0**profile.params.gallery_scale_bits
    blocks = []
    for block in range(start_block, stop_block):
        diags = diagonal_block(gallery.embeddings[block * size : (block + 1) * size], profile)
        per_giant = []
        for giant in diags:
            row = []
            for values in giant:
                if not values.any():
                    row.append(None)
                    continue
                plain = sealapi.Plaintext()
                encoder.encode(values.tolist(), parms_id, scale, plain)
                row.append(plain)
            per_giant.append(row)
        blocks.append(per_giant)
    return PreparedShard(profile, start_block, stop_block, blocks)


def _load_query(context: PublicContext, query: bytes) -> sealapi.Ciphertext:
    from tenseal import sealapi

    header, sections = he_wire.unpack(query, QUERY)
    if header.get("key_id") != context.key_id:
        raise he_wire.PayloadError("query was encrypted under another key")
    if header.get("dim") != context.profile.dim or len(sections) != 1:
        raise he_wire.PayloadError("query does not match the profile")
    params = context.profile.params
    ctx = seal_context(params)
    ct = sealapi.Ciphertext()
    he_wire.seal_load(lambda p: ct.load(ctx, p), sections[0])
    if ct.size() != 2 or ct.parms_id() != ctx.last_parms_id() or ct.scale != 2.0**params.query_scale_bits:
        raise he_wire.PayloadError("query ciphertext has the wrong level, size or scale")
    return ct


def score_query(context: PublicContext, shard: PreparedShard, query: bytes) -> bytes:
    """Encrypted scores of every entry in the shard for one encrypted query."""
    from tenseal import sealapi

    if shard.profile != context.profile:
        raise ValueError("shard was prepared for a different search profile")
    evaluator = _evaluator(context.profile.params)
    galois = context.galois_keys
    b = context.profile.giant_step
    # Baby steps: rotations of the query shared by every block of the shard.
    babies = [_load_query(context, query)]
    for _ in range(1, b):
        rotated = sealapi.Ciphertext()
        evaluator.rotate_vector(babies[-1], 1, galois, rotated)
        babies.append(rotated)
    tmp = sealapi.Ciphertext()
    sections = []
    for block in shard.plaintexts:
        # Baby step outermost: each rotated query is read once per block while
        # the D/b partial sums stay in L2 (~4% less CPU than giant-step outermost).
        inner: list[Any] = [None] * len(block)
        for a, baby in enumerate(babies):
            for g, row in enumerate(block):
                plain = row[a]
                if plain is None:
                    continue
                if inner[g] is None:
                    inner[g] = sealapi.Ciphertext()
                    evaluator.multiply_plain(baby, plain, inner[g])
                else:
                    evaluator.multiply_plain(baby, plain, tmp)
                    evaluator.add_inplace(inner[g], tmp)
        acc = None
        for part in reversed(inner):  # Horner over giant steps g = G-1 .. 0
            if acc is None:
                acc = part  # all-zero so far: rotating zero is zero
            else:
                evaluator.rotate_vector_inplace(acc, b, galois)
                if part is not None:
                    evaluator.add_inplace(acc, part)
        if acc is None:
            raise ValueError("gallery block encodes to all zeros")
        sections.append(he_wire.seal_save(acc))
    header = {
        "key_id": context.key_id,
        "start_block": shard.start_block,
        "stop_block": shard.stop_block,
    }
    return he_wire.pack(SCORES, header, sections)
