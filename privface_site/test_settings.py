"""Settings for the test suite: PostgreSQL and a Redis database of their own, so tests
share the database with the real worker and Daphne processes they start, and never
touch a developer's data. Every value can still be overridden from the environment."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/privface")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CHANNELS_PREFIX", "privface-test")
# Login-throttle counters of one test run (and its child processes) only.
os.environ.setdefault("CACHE_PREFIX", f"privface-test-{os.getpid()}")
# Test servers start their compute processes on first use, not each at start-up.
os.environ.setdefault("COMPUTE_WARM", "0")
# Test workers run one process: one warm task per warm-up (none handed back for a sibling).
os.environ.setdefault("SEARCH_WARM_TASKS", "1")
os.environ.setdefault("JOB_HEARTBEAT_SECONDS", "1")
os.environ.setdefault("JOB_STALE_SECONDS", "6")
_var = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "var")
os.environ.setdefault("DATA_ROOT", os.path.join(_var, "test-data"))
os.environ.setdefault("MEDIA_ROOT", os.path.join(_var, "test-media"))

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
