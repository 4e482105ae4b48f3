"""Celery entry point of encrypted search. The message carries ids and Redis key names
only: the public context and the query ciphertext wait in Redis, and no secret key ever
exists outside the process that made it."""

from celery import shared_task
from celery.signals import worker_ready


# Not acks_late: a search whose worker died is answered 504 and re-run by the user; a
# redelivery after the request gave up would find its Redis keys gone anyway.
@shared_task(name="inference.score_shard", acks_late=False, ignore_result=True)
def score_shard(gallery_id: int, version: int, store: str, start_block: int, stop_block: int,
                context_key: str, query_key: str, reply_key: str) -> None:
    from .worker import score_shard as run

    run(gallery_id=gallery_id, version=version, store=store, start_block=start_block, stop_block=stop_block,
        context_key=context_key, query_key=query_key, reply_key=reply_key)


@shared_task(name="inference.embed_probe", acks_late=False, ignore_result=True)
def embed_probe(gallery_id: int, digest: str, crop_key: str, reply_key: str) -> None:
    """A search's probe through the gallery's trained model (the web process imports no TensorFlow)."""
    from .worker import embed_probe as run

    run(gallery_id=gallery_id, digest=digest, crop_key=crop_key, reply_key=reply_key)


# A warm task is meant for a process that has not encoded the gallery yet. One that finds it
# all encoded here hands the task back to the queue (a retry, after 0.5, 1, 2, 4 and 8 s) so
# that another process can take it: idle processes take tasks in no fixed order, and a
# process that finished its own warm-up first may take its sibling's too.
WARM_HANDBACKS = 5


@shared_task(name="inference.warm_gallery", bind=True, acks_late=False, ignore_result=True,
             max_retries=WARM_HANDBACKS)
def warm_gallery(self, gallery_id: int, version: int, store: str, templates: int, dim: int) -> None:
    """Encode a gallery version's shards in this worker process before its first search."""
    from django.conf import settings

    from .worker import warm_gallery as run

    done = run(gallery_id=gallery_id, version=version, store=store, templates=templates, dim=dim)
    if done == "cached" and settings.SEARCH_WARM_TASKS > 1 and self.request.retries < WARM_HANDBACKS:
        raise self.retry(countdown=0.5 * 2**self.request.retries)


@worker_ready.connect
def _warm_recent_galleries(**_) -> None:
    """A started (or restarted) worker's processes hold no encoded shard: encode the galleries
    searched last before someone searches them again."""
    from django.db import connection

    from .warmup import warm_recent

    try:
        warm_recent()
    finally:
        connection.close()  # the worker's main process runs no tasks: keep no connection open
