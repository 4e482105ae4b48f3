"""Redis keys of encrypted search: public contexts (by key id), per-search query and reply list."""

from __future__ import annotations

import functools

from django.conf import settings

PREFIX = "privface:he"


@functools.cache
def _client(url: str):
    import redis

    return redis.Redis.from_url(url)


def client():
    return _client(settings.REDIS_URL)


def context_key(key_id: str, owner_id: int | None = None) -> str:
    """A registered public context lives under its owner: another user's key id finds nothing."""
    return f"{PREFIX}:ctx:{key_id}" if owner_id is None else f"{PREFIX}:ctx:{owner_id}:{key_id}"


def query_key(search_id: str) -> str:
    return f"{PREFIX}:query:{search_id}"


def reply_key(search_id: str) -> str:
    return f"{PREFIX}:reply:{search_id}"


def crop_key(search_id: str) -> str:
    """The aligned crop a worker embeds with a gallery's trained model."""
    return f"{PREFIX}:crop:{search_id}"
