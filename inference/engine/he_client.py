"""Key holder's side of encrypted search: keys, query encryption, decryption, ranking.

The secret key never leaves this object except through `export_private`,
which the CLI uses to keep a key on the user's machine. Everything handed to
a search server (`public_context`, `encrypt_query`) is public material only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from inference.engine import he_wire
from inference.engine.gallery import l2_normalise
from inference.engine.he_layout import (
    SearchProfile,
    block_count,
    block_size,
    replicate_query,
    unpack_block,
)
from inference.engine.he_params import seal_context
from inference.engine.ranking import Match, top_k

if TYPE_CHECKING:  # tenseal is imported lazily: the web process must start fast
    from tenseal import sealapi

PUBLIC_CONTEXT = "public_context"
PRIVATE_KEY = "private_key"
QUERY = "query"
SCORES = "scores"


def key_id_of(public_context: bytes) -> str:
    """Stable id of a public context; servers cache loaded contexts under it."""
    return hashlib.sha256(public_context).hexdigest()[:32]


class HEClient:
    """Makes a CKKS key pair for one search profile and holds the secret key."""

    def __init__(self, profile: SearchProfile, *, _private: tuple[bytes, bytes] | None = None):
        from tenseal import sealapi

        self.profile = profile
        self._ctx = seal_context(profile.params)
        if _private is None:
            keygen = sealapi.KeyGenerator(self._ctx)
            self._secret = keygen.secret_key()
            self._public = self._make_public_context(keygen)
        else:
            secret_bytes, self._public = _private
            self._secret = sealapi.SecretKey()
            he_wire.seal_load(lambda p: self._secret.load(self._ctx, p), secret_bytes)
        self.key_id = key_id_of(self._public)
        self._encoder = sealapi.CKKSEncoder(self._ctx)
        # Symmetric encryption: smaller (seeded) query ciphertexts, and the
        # server never needs a public encryption key at all.
        self._encryptor = sealapi.Encryptor(self._ctx, self._secret)
        self._decryptor = sealapi.Decryptor(self._ctx, self._secret)

    def _make_public_context(self, keygen: sealapi.KeyGenerator) -> bytes:
        tool = self._ctx.key_context_data().galois_tool()
        elts = [tool.get_elt_from_step(s) for s in self.profile.rotation_steps]
        # Only the Galois keys for the rotations the profile needs: no public
        # key, no relinearisation keys, and never the secret key.
        sections = [he_wire.seal_save(keygen.create_galois_keys(elts))] if elts else []
        return he_wire.pack(PUBLIC_CONTEXT, {"profile": self.profile.to_dict()}, sections)

    def public_context(self) -> bytes:
        """What a search server needs to evaluate on this key: parameters + Galois keys."""
        return self._public

    def export_private(self) -> bytes:
        """Secret key + its public context, for storage on the key owner's machine only."""
        secret = he_wire.seal_save(self._secret)
        return he_wire.pack(PRIVATE_KEY, {"profile": self.profile.to_dict()}, [secret, self._public])

    @classmethod
    def from_private(cls, data: bytes) -> HEClient:
        header, sections = he_wire.unpack(data, PRIVATE_KEY)
        if len(sections) != 2:
            raise he_wire.PayloadError("private key payload needs 2 sections")
        return cls(SearchProfile.from_dict(header["profile"]), _private=(sections[0], sections[1]))

    def encrypt_query(self, embedding: np.ndarray, normalise: bool = True) -> bytes:
        """L2-normalise (unless ``normalise=False``: a euclidean-rule gallery's scaled raw
        vector, norm about 1), tile over the slots and encrypt the probe embedding."""
        from tenseal import sealapi

        query = np.asarray(embedding, dtype=np.float64).reshape(-1)
        if query.shape[0] != self.profile.dim:
            raise ValueError(f"query has dim {query.shape[0]}, profile wants {self.profile.dim}")
        params = self.profile.params
        if normalise:
            query = l2_normalise(query)
        elif not np.isfinite(query).all() or np.linalg.norm(query) > 4:
            raise ValueError("an unnormalised query must be finite with norm at most 4 (CKKS headroom)")
        values = replicate_query(query, self.profile.dim_pad, params.slots)
        plain = sealapi.Plaintext()
        # Lowest level: the query is only ever multiplied once, so every prime
        # above the first would just be upload bytes.
        self._encoder.encode(values.tolist(), self._ctx.last_parms_id(), 2.0**params.query_scale_bits, plain)
        ciphertext = he_wire.seal_save(self._encryptor.encrypt_symmetric(plain))
        header = {"key_id": self.key_id, "dim": self.profile.dim}
        return he_wire.pack(QUERY, header, [ciphertext])

    def decrypt_scores(self, payloads: Iterable[bytes], n_entries: int) -> np.ndarray:
        """Decrypt and merge per-shard score payloads into n_entries cosine scores."""
        from tenseal import sealapi

        size = block_size(self.profile.slots)
        n_blocks = block_count(n_entries, self.profile.slots)
        scores = np.empty(n_blocks * size)
        seen = np.zeros(n_blocks, dtype=bool)
        expected_scale = 2.0 ** (self.profile.params.query_scale_bits + self.profile.params.gallery_scale_bits)
        for payload in payloads:
            header, sections = he_wire.unpack(payload, SCORES)
            if header.get("key_id") != self.key_id:
                raise he_wire.PayloadError("scores were computed for another key")
            start, stop = int(header["start_block"]), int(header["stop_block"])
            if not 0 <= start < stop <= n_blocks or len(sections) != stop - start:
                raise he_wire.PayloadError(f"bad block range {start}..{stop} for {n_blocks} blocks")
            for block, section in zip(range(start, stop), sections, strict=True):
                if seen[block]:
                    raise he_wire.PayloadError(f"block {block} returned twice")
                ct = sealapi.Ciphertext()
                he_wire.seal_load(lambda p, ct=ct: ct.load(self._ctx, p), section)
                if ct.size() != 2 or abs(ct.scale / expected_scale - 1) > 1e-9:
                    raise he_wire.PayloadError("unexpected score ciphertext shape or scale")
                plain = sealapi.Plaintext()
                self._decryptor.decrypt(ct, plain)
                values = np.asarray(self._encoder.decode_complex(plain))
                scores[block * size : (block + 1) * size] = unpack_block(values)
                seen[block] = True
        if not seen.all():
            raise he_wire.PayloadError(f"missing score blocks {np.flatnonzero(~seen).tolist()}")
        return scores[:n_entries]

    def search(
        self,
        payloads: Iterable[bytes],
        labels: Sequence[str],
        k: int = 5,
        threshold: float | None = None,
    ) -> list[Match]:
        """Decrypt, merge, and rank; an empty list means no entry passed the threshold."""
        return top_k(self.decrypt_scores(payloads, len(labels)), labels, k, threshold)
