"""Where the web tier keeps gallery files, and the key they are encrypted with."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings

from inference.engine import atrest
from inference.engine.store import GalleryStore


@functools.cache
def _key(configured: str, secret: str) -> bytes:
    if configured:
        return atrest.parse_key(configured)
    return atrest.derive_key(secret)


def template_key() -> bytes:
    """settings.TEMPLATE_KEY, else HKDF(SECRET_KEY): production should set TEMPLATE_KEY."""
    return _key(settings.TEMPLATE_KEY, settings.SECRET_KEY)


def gallery_dir(gallery_id: int) -> Path:
    return Path(settings.DATA_ROOT) / "galleries" / str(gallery_id)


def store_for(gallery_id: int, store: str) -> GalleryStore:
    """One version folder of a gallery; the binding ties its files to (gallery, store)."""
    if not store or not store.isalnum():
        raise ValueError(f"bad store name {store!r}")
    return GalleryStore(gallery_dir(gallery_id) / store, template_key(), f"gallery/{gallery_id}/{store}")
