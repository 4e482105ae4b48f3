"""Encode a gallery's shards on the workers before its first search.

A worker process encodes the shards it scores once and keeps them (inference/worker.py);
the first search of a gallery version otherwise pays that encoding (at 100k 512-d
templates ~2.5 s a shard, most of a first private search). Warm tasks do it ahead: when an
enrollment makes the gallery ready, and when the Search page opens the gallery
(``POST /api/galleries/<id>/warm/``), and for the galleries searched last when a worker
starts (its processes start empty). One task per worker process of the cpu queue: the
prefork pool hands a task only to an idle process, so idle processes each take one and
encode every shard; a busy one is warmed by its next search as before.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from . import redisio
from .models import Gallery

log = logging.getLogger(__name__)

PREFIX = "privface:warm"  # not under privface:he: (the search tests count those keys)


class TooManyWarmups(Exception):
    """This user's pages asked for more warm-ups this minute than allowed."""


def warm(gallery: Gallery, user_id: int | None = None, *, force: bool = False) -> bool:
    """Queue the gallery's warm tasks unless this version was warmed recently; True if queued.

    ``user_id``: the page's user, limited to SEARCH_WARM_PER_USER_MINUTE galleries a minute
    (a warm task costs worker time; a version already warm costs nothing). ``force``: even
    if it was (a restarted worker's processes hold nothing)."""
    from .tasks import warm_gallery

    if not gallery.searchable or settings.SEARCH_WARM_TASKS < 1:
        return False
    redis = redisio.client()
    if user_id is not None:
        minute = f"{PREFIX}:user:{user_id}:{int(time.time() // 60)}"
        pipe = redis.pipeline()
        pipe.incr(minute)
        pipe.expire(minute, 120)
        if pipe.execute()[0] > settings.SEARCH_WARM_PER_USER_MINUTE:
            raise TooManyWarmups
    key = f"{PREFIX}:{gallery.pk}:{gallery.version}:{gallery.store}"
    if not redis.set(key, 1, nx=not force, ex=settings.SEARCH_WARM_EVERY_SECONDS):
        return False
    kwargs = {"gallery_id": gallery.pk, "version": gallery.version, "store": gallery.store,
              "templates": gallery.templates, "dim": gallery.dim}
    for _ in range(settings.SEARCH_WARM_TASKS):
        warm_gallery.apply_async(kwargs=kwargs, queue="cpu", expires=settings.SEARCH_WARM_EVERY_SECONDS)
    return True


def warm_ready(gallery_id: int) -> None:
    """After the commit that made a gallery ready (an enrollment's end)."""
    gallery = Gallery.objects.filter(pk=gallery_id).first()
    if gallery is None:
        return
    try:
        warm(gallery)
    except Exception:  # noqa: BLE001 - warming is an optimisation: the enrollment's end must not fail for it
        log.exception("gallery %s: its warm tasks were not sent", gallery_id)


def warm_recent() -> int:
    """When a worker starts: warm the SEARCH_WARM_ON_START galleries searched most recently
    (within a day). Returns how many were queued."""
    import datetime

    from django.db.models import Max
    from django.utils import timezone

    from .models import SearchAudit

    if settings.SEARCH_WARM_ON_START < 1:
        return 0
    since = timezone.now() - datetime.timedelta(days=1)
    recent = (SearchAudit.objects.filter(time__gte=since, gallery__isnull=False).values("gallery")
              .annotate(last=Max("time")).order_by("-last")[: settings.SEARCH_WARM_ON_START])
    queued = 0
    for gallery in Gallery.objects.filter(pk__in=[row["gallery"] for row in recent]):
        try:
            queued += warm(gallery, force=True)
        except Exception:  # noqa: BLE001 - a worker must start even when Redis or a row misbehaves
            log.exception("gallery %s: its warm tasks were not sent", gallery.pk)
    return queued
