"""Encrypted search, web tier.

Browser flow (``search_photo``): the web process is the key holder. It aligns and
embeds the photo, makes a fresh CKKS key pair for this search only, puts the public
context and the query ciphertext in Redis, sends one Celery task per shard (ids and
Redis key names only), waits for the encrypted scores, decrypts, ranks and forgets the
key when the request ends.

Remote flow (``register_context`` + ``encrypted_search``): the key holder is the
user's machine (``run.py inference --server``); the server only relays public
material and returns the encrypted scores in one ``score_set`` container.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable

import numpy as np
from django.conf import settings

from inference import redisio
from inference.engine import he_wire, protocol
from inference.engine.enroll import jpeg_of
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY, key_id_of
from inference.engine.he_layout import SearchProfile, shard_ranges
from inference.engine.he_params import InsecureParametersError
from privface_core.errors import Conflict, TooLarge, UserError

from . import actions
from .enrollment import check_model
from .models import Gallery, SearchAudit
from .serializers import embedder_metadata
from .storage import store_for


class SearchTimeout(UserError):
    http_status = 504


class SearchFailed(UserError):
    http_status = 502


def gallery_profile(gallery: Gallery) -> SearchProfile | None:
    """The search profile this server publishes for the gallery (None before enrollment)."""
    if not gallery.searchable:
        return None
    return protocol.profile_for(gallery.templates, gallery.dim, settings.SEARCH_HE_PRESET)


def _check_searchable(gallery: Gallery) -> SearchProfile:
    profile = gallery_profile(gallery)
    if profile is None:
        raise Conflict(f"gallery {gallery.name!r} has no templates yet (status {gallery.status})")
    return profile


def _dispatch(gallery: Gallery, store: str, version: int, context_key: str, query: bytes,
              profile: SearchProfile) -> tuple[list[tuple[int, int]], list[bytes], list[dict]]:
    """One task per shard; wait for every reply. Returns (ranges, score payloads, reply headers)."""
    from .tasks import score_shard

    timeout = settings.SEARCH_TIMEOUT_SECONDS
    redis = redisio.client()
    search_id = uuid.uuid4().hex
    query_key, reply_key = redisio.query_key(search_id), redisio.reply_key(search_id)
    ranges = shard_ranges(gallery.templates, profile.slots, settings.SEARCH_MAX_SHARDS)
    redis.set(query_key, query, ex=timeout + 60)
    payloads: list[bytes] = []
    replies: list[dict] = []
    try:
        for start, stop in ranges:
            score_shard.apply_async(
                kwargs={"gallery_id": gallery.pk, "version": version, "store": store, "start_block": start,
                        "stop_block": stop, "context_key": context_key, "query_key": query_key,
                        "reply_key": reply_key},
                queue="cpu", expires=timeout)
        deadline = time.monotonic() + timeout
        while len(payloads) < len(ranges):
            remaining = deadline - time.monotonic()
            item = redis.blpop([reply_key], timeout=remaining) if remaining > 0 else None
            if item is None:
                raise SearchTimeout(f"no search worker answered within {timeout} s ({len(payloads)} of "
                                    f"{len(ranges)} shards done): is a Celery worker running on the cpu queue?")
            header, payload = protocol.unpack_reply(item[1])
            if payload is None:
                message = header.get("error", "unknown error")
                if "changed" in message or header.get("conflict"):
                    raise Conflict(message)
                raise SearchFailed(f"a search worker failed: {message}")
            payloads.append(payload)
            replies.append(header)
    finally:
        redis.delete(query_key, reply_key)
    return ranges, payloads, replies


def _server_timings(ranges, payloads, replies) -> dict:
    return {
        "response_bytes": sum(len(p) for p in payloads),
        "shards": len(ranges),
        "server_seconds": max(r["seconds"] for r in replies),
        "server_prepare_seconds": max(r["prepare_seconds"] for r in replies),
        "server_cached": all(r["cached"] for r in replies),
    }


def _embed_on_worker(gallery: Gallery, face) -> tuple[np.ndarray, dict]:
    """A trained model's probe embedding, computed by a `cpu` worker (the web process never
    imports TensorFlow). The aligned crop goes through Redis for this search only."""
    from .tasks import embed_probe

    timeout = settings.SEARCH_TIMEOUT_SECONDS
    redis = redisio.client()
    search_id = uuid.uuid4().hex
    crop_key, reply_key = redisio.crop_key(search_id), redisio.reply_key(search_id)
    redis.set(crop_key, np.ascontiguousarray(face.crop, np.uint8).tobytes(), ex=timeout + 60)
    try:
        embed_probe.apply_async(kwargs={"gallery_id": gallery.pk, "digest": gallery.model_digest,
                                        "crop_key": crop_key, "reply_key": reply_key},
                                queue="cpu", expires=timeout)
        item = redis.blpop([reply_key], timeout=timeout)
        if item is None:
            raise SearchTimeout(f"no worker embedded the photo within {timeout} s: is a Celery worker running "
                                "on the cpu queue?")
        header, payload = protocol.unpack_reply(item[1])
    finally:
        redis.delete(crop_key, reply_key)
    if payload is None:
        message = header.get("error", "unknown error")
        if header.get("conflict"):
            raise Conflict(message)
        raise SearchFailed(f"the embedding worker failed: {message}")
    probe = np.frombuffer(payload, dtype=np.float32)
    if probe.shape != (gallery.dim,):
        raise SearchFailed(f"the embedding worker answered {probe.shape[0]} values for a {gallery.dim}-d gallery")
    return probe, {"worker_embed_seconds": header.get("seconds"), "worker_model_cached": header.get("cached")}


def _compute(fn, *args):
    """``fn(*args)`` in a compute process of the ``search`` lane, within SEARCH_COMPUTE_TIMEOUT_SECONDS
    (the first call also starts the process and loads the face models)."""
    from privface_site import compute

    limit = settings.SEARCH_COMPUTE_TIMEOUT_SECONDS
    try:
        return compute.run(fn, *args, timeout=limit, lane="search")
    except compute.ComputeTimeout:
        raise SearchFailed(f"preparing the search took more than {limit} s; try again") from None


def search_photo(user, gallery: Gallery, data: bytes, *, top_k: int, threshold: float | None,
                 thumbnail_url: Callable[[str, int], str], aligned: bool = False) -> dict:
    """The browser flow; raises UserError 4xx/5xx for bad input, no worker, a busy gallery,
    or (409) a gallery whose trained model was deleted or changed."""
    from inference.engine import browser_probe
    from inference.engine.gallery import to_scores

    began = time.perf_counter()
    profile = _check_searchable(gallery)
    check_model(gallery)
    if len(data) > settings.SEARCH_MAX_IMAGE_BYTES:
        raise TooLarge(f"the photo is {len(data)} bytes; the limit is {settings.SEARCH_MAX_IMAGE_BYTES}")
    store, version, entries = gallery.store, gallery.version, gallery.templates
    # The CPU work (alignment, embedding, keys, encryption, decryption) runs in a compute
    # process: in this one it held the interpreter lock and stalled every other request.
    embed_timings: dict = {}
    if gallery.model_digest:
        face = _compute(browser_probe.align, data, aligned, gallery.faces)  # cropped as the gallery was
        aligned_at = time.perf_counter()
        probe, embed_timings = _embed_on_worker(gallery, face)
        rule = "cosine"  # trained models score by cosine
        embedded = time.perf_counter()
        public, query, private, key_id = _compute(browser_probe.keys_and_query, profile.to_dict(), probe, True)
    else:
        prepared = _compute(browser_probe.reference_probe, data, aligned, gallery.embedder, profile.to_dict())
        face, probe, rule = prepared["face"], prepared["probe"], prepared["rule"]
        public, query = prepared["public"], prepared["query"]
        private, key_id = prepared["private"], prepared["key_id"]
        aligned_at = began + prepared["align_seconds"]
        embedded = aligned_at + prepared["embed_seconds"]
    encrypted = time.perf_counter()
    redis = redisio.client()
    context_key = redisio.context_key(key_id)
    redis.set(context_key, public, ex=settings.SEARCH_TIMEOUT_SECONDS + 60)
    try:
        ranges, payloads, replies = _dispatch(gallery, store, version, context_key, query, profile)
    finally:
        redis.delete(context_key)
    answered = time.perf_counter()
    scores = _compute(browser_probe.decrypt, private, list(payloads), entries)
    del private  # the secret key goes with it
    decrypted = time.perf_counter()

    embedder = embedder_metadata(gallery)
    if threshold is None:
        threshold = gallery.threshold if gallery.threshold is not None else embedder["default_threshold"]
    try:
        meta = store_for(gallery.pk, store).read_labels()
    except FileNotFoundError:
        raise Conflict("the gallery changed while searching; search again") from None
    if meta.get("score", "cosine") != rule:
        raise Conflict(f"gallery {gallery.name!r} was enrolled under the {meta.get('score', 'cosine')} rule, "
                       f"the probe under {rule}")
    scores = to_scores(scores, probe, meta.get("sq_norms"), rule)
    matches = protocol.rank(scores, meta["labels"], top_k, threshold)
    server = {
        "upload_bytes": len(query),
        "context_bytes": len(public),
        **_server_timings(ranges, payloads, replies),
        "client_align_seconds": round(aligned_at - began, 4),
        "client_embed_seconds": round(embedded - aligned_at, 4),
        **embed_timings,
        "client_encrypt_seconds": round(encrypted - embedded, 4),
        "wait_seconds": round(answered - encrypted, 4),
        "client_decrypt_seconds": round(decrypted - answered, 4),
    }
    server["total_seconds"] = round(time.perf_counter() - began, 4)
    audit = actions.record_search(user, gallery, mode=SearchAudit.Mode.WEB, version=version,
                                  result_count=len(matches), matched=bool(matches), timings=server)
    return {
        "gallery": {"id": gallery.pk, "name": gallery.name, "version": version},
        "matches": [dict(m, thumbnail=thumbnail_url(m["identity"], version))
                    for m in protocol.matches_json(matches)],
        "matched": bool(matches),
        "threshold": threshold,
        "top_k": top_k,
        "aligned": True,
        "faces_found": face.n_faces,
        "aligned_crop": "data:image/jpeg;base64," + base64.b64encode(jpeg_of(face.crop)).decode(),
        "embedder": embedder,
        "calibration": gallery.calibration,
        "server": server,
        "audit_id": audit.pk,
    }


def _loads_as_secret_key(profile: SearchProfile, section: bytes) -> bool:
    from tenseal import sealapi

    from inference.engine.he_params import seal_context

    secret = sealapi.SecretKey()
    try:
        he_wire.seal_load(lambda p: secret.load(seal_context(profile.params), p), section)
    except he_wire.PayloadError:
        return False
    return True


def register_context(body: bytes, owner_id: int) -> dict:
    """Check a client's public context (integrity, parameters, Galois keys, no secret key)
    and cache it in Redis under its owner and key id for HE_CONTEXT_TTL_SECONDS."""
    from inference.engine.he_server import load_public_context

    if not body:
        raise UserError("the body must be a public context (application/octet-stream)")
    try:
        header, sections = he_wire.unpack(body, PUBLIC_CONTEXT, require_digest=True)
        profile = SearchProfile.from_dict(header.get("profile") or {})
        if any(_loads_as_secret_key(profile, s) for s in sections):
            raise UserError("this context holds a secret key: send only HEClient.public_context()")
        context = load_public_context(body)
    except (he_wire.PayloadError, InsecureParametersError, ValueError) as exc:
        raise UserError(f"not an acceptable public context: {exc}") from None
    ttl = settings.HE_CONTEXT_TTL_SECONDS
    redisio.client().set(redisio.context_key(context.key_id, owner_id), body, ex=ttl)
    return {"key_id": context.key_id, "expires_in": ttl, "profile": context.profile.to_dict()}


def encrypted_search(user, gallery: Gallery, key_id: str, query: bytes) -> tuple[bytes, dict]:
    """Score a remote client's query; returns the score_set container and response headers."""
    began = time.perf_counter()
    profile = _check_searchable(gallery)
    check_model(gallery)
    if not key_id:
        raise UserError("key_id: required (POST the public context to /api/he/contexts/ first)")
    redis = redisio.client()
    context_key = redisio.context_key(key_id, user.pk)  # only the user's own contexts
    public = redis.get(context_key)
    if public is None or key_id_of(public) != key_id:
        raise UserError(f"key_id: {key_id[:64]!r} is unknown or expired; POST the public context again")
    header, _ = he_wire.unpack(public, PUBLIC_CONTEXT)
    if SearchProfile.from_dict(header["profile"]) != profile:
        raise Conflict("the key was made for another search profile: use the gallery's he_profile "
                       "(it changes when the gallery grows)")
    try:
        query_header, sections = he_wire.unpack(query, QUERY)
    except he_wire.PayloadError as exc:
        raise UserError(f"the body is not a query ciphertext: {exc}") from None
    if query_header.get("key_id") != key_id or query_header.get("dim") != profile.dim or len(sections) != 1:
        raise UserError("the query was not encrypted under key_id or does not match the gallery's profile")
    store, version, entries = gallery.store, gallery.version, gallery.templates
    ranges, payloads, replies = _dispatch(gallery, store, version, context_key, query, profile)
    container = protocol.pack_score_set(gallery.pk, version, entries, key_id, ranges, payloads)
    timings = {"upload_bytes": len(query), "context_bytes": len(public), **_server_timings(ranges, payloads, replies)}
    timings["total_seconds"] = round(time.perf_counter() - began, 4)
    actions.record_search(user, gallery, mode=SearchAudit.Mode.ENCRYPTED, version=version, result_count=None,
                          matched=None, timings=timings)
    headers = {"X-Gallery-Version": str(version), "X-Gallery-Entries": str(entries),
               "X-Server-Seconds": str(timings["server_seconds"])}
    return container, headers
