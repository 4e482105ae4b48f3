from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.actions import create_user

from .live import Server, Worker


@pytest.fixture
def alice(db):
    user, _ = create_user("alice", "alice-password-1")
    return user


@pytest.fixture
def bob(db):
    user, _ = create_user("bob", "bob-password-1")
    return user


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice_client(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture(scope="session", autouse=True)
def fresh_data_root():
    """Uploads from an earlier run must not meet this run's (ids restart with the test DB)."""
    import shutil

    from django.conf import settings

    shutil.rmtree(settings.DATA_ROOT, ignore_errors=True)
    settings.DATA_ROOT.mkdir(parents=True)


@pytest.fixture(scope="session")
def purged_queues(django_db_setup, django_db_blocker):
    """Drop task messages left in the test Redis by earlier runs."""
    from privface_site.celery import app

    app.control.purge()
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture
def worker(transactional_db, purged_queues):
    w = Worker().start()
    yield w
    w.stop()


@pytest.fixture
def server(transactional_db, purged_queues):
    s = Server().start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _fresh_compute_answers():
    """Each test computes its privacy estimates anew (the web process remembers answers)."""
    from privface_site import compute

    compute.forget()
