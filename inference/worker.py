"""The search worker's side: score one gallery shard for an encrypted query.

Reads the public context and the query ciphertext from Redis, decrypts the gallery's
templates at rest, encodes the shard's plaintexts once per (gallery, version, store,
profile, shard) and keeps them in this process, scores, and pushes the encrypted
scores to the search's reply list. It never sees a secret key, the probe or a score.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from django.conf import settings

from inference import redisio
from inference.engine import protocol
from inference.storage import store_for
from privface_core.errors import UserError

log = logging.getLogger(__name__)

_shards: OrderedDict[tuple, object] = OrderedDict()


def _read_gallery(gallery_id: int, store: str):
    from inference.engine.gallery import Gallery

    try:
        embeddings = store_for(gallery_id, store).read_embeddings()
    except FileNotFoundError:
        raise UserError("the gallery changed while searching; search again") from None
    return Gallery(embeddings, ("",) * len(embeddings))  # the worker never needs the labels


def _prepared(gallery_id: int, version: int, store: str, profile, start: int, stop: int, gallery=None):
    """(PreparedShard, seconds spent preparing, whether it came from the cache). ``gallery``:
    its templates when the caller has read them already (a warm task encodes every shard)."""
    from inference.engine.he_server import prepare_shard

    key = (gallery_id, version, store, profile, start, stop)
    if key in _shards:
        _shards.move_to_end(key)
        return _shards[key], 0.0, True
    began = time.perf_counter()
    shard = prepare_shard(gallery if gallery is not None else _read_gallery(gallery_id, store), profile, start, stop)
    _shards[key] = shard
    while len(_shards) > settings.SEARCH_SHARD_CACHE:
        _shards.popitem(last=False)
    return shard, time.perf_counter() - began, False


def warm_gallery(*, gallery_id: int, version: int, store: str, templates: int, dim: int) -> str:
    """Encode every shard of a gallery version for the profile its searches use, in this
    process, before a search needs them (a cold 100k x 512 shard: ~0.8 s reading the
    templates + ~1.6 s encoding). Returns "encoded", "cached" (all of it was, here) or
    "gone" (the version changed since: nothing to do)."""
    from inference.engine import protocol
    from inference.engine.he_layout import shard_ranges

    profile = protocol.profile_for(templates, dim, settings.SEARCH_HE_PRESET)
    ranges = shard_ranges(templates, profile.slots, settings.SEARCH_MAX_SHARDS)[: settings.SEARCH_SHARD_CACHE]
    missing = [r for r in ranges if (gallery_id, version, store, profile, *r) not in _shards]
    if not missing:
        return "cached"
    began = time.perf_counter()
    try:
        gallery = _read_gallery(gallery_id, store)
    except UserError:
        log.info("warm gallery %s v%s: its store %s is gone (changed since); nothing to do", gallery_id, version, store)
        return "gone"
    if len(gallery) != templates or gallery.dim != dim:
        log.info("warm gallery %s v%s: %d x %d templates, not %d x %d; not warmed", gallery_id, version,
                 len(gallery), gallery.dim, templates, dim)
        return "gone"
    for start, stop in missing:
        _prepared(gallery_id, version, store, profile, start, stop, gallery=gallery)
    log.info("warm gallery %s v%s: %d shard(s) encoded in %.2f s", gallery_id, version, len(missing),
             time.perf_counter() - began)
    return "encoded"


def score_shard(*, gallery_id: int, version: int, store: str, start_block: int, stop_block: int,
                context_key: str, query_key: str, reply_key: str) -> None:
    from inference.engine.he_server import load_public_context, score_query

    redis = redisio.client()
    context_bytes, query = redis.mget([context_key, query_key])
    if context_bytes is None or query is None:
        log.info("search %s: its keys are gone (answered or timed out); nothing to do", reply_key)
        return
    began, cpu = time.perf_counter(), time.process_time()
    try:
        context = load_public_context(context_bytes)
        shard, prepare_s, cached = _prepared(gallery_id, version, store, context.profile, start_block, stop_block)
        scoring = time.perf_counter()
        payload = score_query(context, shard, query)
        reply = protocol.pack_reply(
            ok=True, payload=payload, shard=[start_block, stop_block], cached=cached,
            prepare_seconds=round(prepare_s, 4), score_seconds=round(time.perf_counter() - scoring, 4),
            seconds=round(time.perf_counter() - began, 4), cpu_seconds=round(time.process_time() - cpu, 4))
    except (UserError, ValueError) as exc:  # PayloadError and InsecureParametersError are ValueErrors
        reply = protocol.pack_reply(ok=False, error=str(exc), shard=[start_block, stop_block])
    except Exception:  # noqa: BLE001 - the waiting request must hear about it, not time out
        log.exception("search %s: shard %s..%s of gallery %s failed", reply_key, start_block, stop_block, gallery_id)
        reply = protocol.pack_reply(ok=False, error="internal error in the search worker",
                                    shard=[start_block, stop_block])
    pipe = redis.pipeline()
    pipe.rpush(reply_key, reply)
    pipe.expire(reply_key, settings.SEARCH_TIMEOUT_SECONDS + 60)
    pipe.execute()


def embed_probe(*, gallery_id: int, digest: str, crop_key: str, reply_key: str) -> None:
    """Embed a search's aligned crop with the gallery's trained model (loaded once per worker
    process, cached by file path and digest) and push the float32 vector to the reply list."""
    import numpy as np

    from inference.engine.embedders import ModelChanged
    from inference.enrollment import embedder_for
    from inference.models import Gallery

    redis = redisio.client()
    crop = redis.get(crop_key)
    if crop is None:
        log.info("search %s: its crop is gone (timed out); nothing to do", reply_key)
        return
    began = time.perf_counter()
    try:
        gallery = Gallery.objects.select_related("model").filter(pk=gallery_id).first()
        if gallery is None:
            raise UserError("the gallery was deleted")
        if gallery.model_digest != digest:
            raise ModelChanged("the gallery's model changed while searching; search again")
        cached = _is_cached(gallery)
        embedder = embedder_for(gallery)
        face = np.frombuffer(crop, dtype=np.uint8).reshape(embedder.input_size, embedder.input_size, 3)
        vector = embedder.embed(face).astype(np.float32)
        reply = protocol.pack_reply(ok=True, payload=vector.tobytes(), seconds=round(time.perf_counter() - began, 4),
                                    cached=cached)
    except ModelChanged as exc:
        reply = protocol.pack_reply(ok=False, error=str(exc), conflict=True)
    except (UserError, ValueError) as exc:
        reply = protocol.pack_reply(ok=False, error=str(exc))
    except Exception:  # noqa: BLE001 - the waiting request must hear about it, not time out
        log.exception("search %s: embedding for gallery %s failed", reply_key, gallery_id)
        reply = protocol.pack_reply(ok=False, error="internal error in the embedding worker")
    pipe = redis.pipeline()
    pipe.rpush(reply_key, reply)
    pipe.expire(reply_key, settings.SEARCH_TIMEOUT_SECONDS + 60)
    pipe.execute()


def _is_cached(gallery) -> bool:
    from inference.engine.embedders import keras_embedder_loaded
    from inference.enrollment import model_file

    return gallery.model is not None and keras_embedder_loaded(model_file(gallery.model), gallery.model_digest)
