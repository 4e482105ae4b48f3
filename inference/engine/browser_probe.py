"""The CPU work of a browser search, run in a compute process (privface_site.compute),
never in the web process: face alignment (dlib or the portable pipeline), the reference embedding, the fresh CKKS
key pair and the query ciphertext, and the decryption of the scores. In the web process
they held the interpreter lock for most of a second per search, and every other request
of that process waited (issue #14). Django-free: the compute process imports only this.
"""

from __future__ import annotations

import time

import numpy as np

from privface_core.errors import UserError


def align(data: bytes, aligned: bool, faces: str = "dlib"):
    """The AlignedFace of the photo by the gallery's face pipeline ``faces`` (BadImage 400,
    UnsupportedImageType 415, NoFaceError 422)."""
    from inference.engine.faces import align_face_bytes

    return align_face_bytes(data, aligned=aligned, faces=faces)


def keys_and_query(profile: dict, probe: np.ndarray, normalise: bool) -> tuple[bytes, bytes, bytes, str]:
    """A fresh key pair for ``profile``: (public context, query, private key, key id)."""
    from inference.engine.he_client import HEClient
    from inference.engine.he_layout import SearchProfile

    client = HEClient(SearchProfile.from_dict(profile))
    return client.public_context(), client.encrypt_query(probe, normalise=normalise), client.export_private(), \
        client.key_id


def reference_probe(data: bytes, aligned: bool, embedder: str, profile: dict) -> dict:
    """Align, embed with the reference embedder ``embedder``, make keys, encrypt: one trip."""
    from inference.engine.embedders import reference_by_name

    began = time.perf_counter()
    face = align(data, aligned)
    aligned_at = time.perf_counter()
    reference = reference_by_name(embedder)
    if reference is None:
        raise UserError(f"the gallery uses embedder {embedder!r}, which this server lacks")
    probe, rule = reference.embed(face), reference.score_rule
    embedded = time.perf_counter()
    public, query, private, key_id = keys_and_query(profile, probe, rule == "cosine")
    return {"face": face, "probe": probe, "rule": rule, "public": public, "query": query, "private": private,
            "key_id": key_id,
            "align_seconds": aligned_at - began, "embed_seconds": embedded - aligned_at,
            "encrypt_seconds": time.perf_counter() - embedded}


def decrypt(private: bytes, payloads: list[bytes], entries: int) -> np.ndarray:
    from inference.engine.he_client import HEClient

    return HEClient.from_private(private).decrypt_scores(payloads, entries)
