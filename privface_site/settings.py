"""Django settings. Everything deployment-specific comes from the environment (see env.py)."""

from __future__ import annotations

import os
from pathlib import Path

from .env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_path,
    env_redis_url,
    env_secret_key,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = env_path("PRIVFACE_VAR_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_secret_key("SECRET_KEY", VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

MEDIA_ROOT = env_path("MEDIA_ROOT", VAR_DIR / "media")
DATA_ROOT = env_path("DATA_ROOT", VAR_DIR / "data")
# Federated deployment: the Flower SuperLink (HOST:PORT) whose SuperNodes train on their own
# data; empty = simulation only. FLOWER_ROOT_CERTIFICATES: its CA (PEM) for TLS; empty = insecure.
FLOWER_SUPERLINK = env_str("FLOWER_SUPERLINK", "")
FLOWER_ROOT_CERTIFICATES = env_str("FLOWER_ROOT_CERTIFICATES", "")
REDIS_URL = env_redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")

# Dataset uploads: one file may not exceed DATASET_MAX_FILE_BYTES, and a user's files
# together not DATASET_QUOTA_BYTES (both answered with 413); one PUT carries at most
# UPLOAD_CHUNK_MAX_BYTES.
DATASET_MAX_FILE_BYTES = env_int("DATASET_MAX_FILE_BYTES", 16 << 30, minimum=1)
DATASET_QUOTA_BYTES = env_int("DATASET_QUOTA_BYTES", 64 << 30, minimum=1)
UPLOAD_CHUNK_MAX_BYTES = env_int("UPLOAD_CHUNK_MAX_BYTES", 64 << 20, minimum=1 << 16)
# Under ASGI Django spools each request body into memory up to this size, then to a temp
# file: 16 MiB keeps an 8 MiB upload chunk off the disk until it reaches its own file
# (bench/upload_throughput.py). Multipart files always go to temp files (handler below),
# so a form with many photos cannot pile them up in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("UPLOAD_SPOOL_MEMORY_BYTES", 16 << 20, minimum=1 << 16)
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
# Every other request body (JSON, forms) may be this large; routes with uploads have their
# own limits above (privface_site/limits.py). Judged from Content-Length before the body is
# read: over the limit is 413, a large body without credentials 401.
REQUEST_MAX_BODY_BYTES = env_int("REQUEST_MAX_BODY_BYTES", 2621440, minimum=1 << 10)  # Django's 2.5 MB
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES
JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 64, minimum=4)  # nesting of a JSON request body

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "accounts",
    "jobs",
    "datasets",
    "training",
    "federation",
    "inference",
]

MIDDLEWARE = [
    "privface_site.middleware.ApiGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "privface_site.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "privface_site.urls"
ASGI_APPLICATION = "privface_site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'privface.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The built dashboard (frontend/dist) is served from /static/ by WhiteNoise; the SPA's
# index.html is rendered by privface_site.views.dashboard for every non-API path.
STATIC_URL = "/static/"
STATIC_ROOT = env_path("STATIC_ROOT", VAR_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.exists() else []
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

REST_FRAMEWORK = {
    # Token first: an unauthenticated API client gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "privface_site.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "privface_site.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PrivFace API",
    "DESCRIPTION": "Privacy-preserving face recognition: datasets, DP training, federated learning, encrypted search.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Shared by every web process: login throttling counters live here (accounts/throttle.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_PREFIX", env_str("CHANNELS_PREFIX", "privface")),
    }
}

# Login throttling (/api/auth/login/, /api/auth/token/, /admin/login/): after this many
# failures in LOGIN_FAILURE_WINDOW_SECONDS for one user name, or from one client address,
# further attempts are 429 with Retry-After until LOGIN_LOCKOUT_SECONDS have passed.
LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)

# Jobs one user may have waiting (queued) at once; more is 429 until one starts or is cancelled.
JOB_MAX_QUEUED_PER_USER = env_int("JOB_MAX_QUEUED_PER_USER", 10, minimum=1)

# `run.py webapp` (and the docker image) serve HTTP and websockets with this many Daphne
# processes on one port: a request that computes in one of them does not stall the others.
WEB_PROCESSES = env_int("WEB_PROCESSES", max(1, min(4, os.cpu_count() or 1)), minimum=1)
WORKER_NICENESS = env_int("WORKER_NICENESS", 5, minimum=0)  # of the worker run.py webapp starts beside them

# CPU-bound work of the web tier (privacy accounting) runs in a pool of processes, never in
# the process that serves requests; a computation past its time limit is stopped (400).
COMPUTE_PROCESSES = env_int("COMPUTE_PROCESSES", 2, minimum=1)  # slow work (PLD accounting)
COMPUTE_LIGHT_PROCESSES = env_int("COMPUTE_LIGHT_PROCESSES", 1, minimum=1)  # quick work (RDP), never behind slow
COMPUTE_SEARCH_PROCESSES = env_int("COMPUTE_SEARCH_PROCESSES", 1, minimum=1)  # browser searches' faces and keys
SEARCH_COMPUTE_TIMEOUT_SECONDS = env_int("SEARCH_COMPUTE_TIMEOUT_SECONDS", 60, minimum=1)
PRIVACY_TIMEOUT_SECONDS = env_int("PRIVACY_TIMEOUT_SECONDS", 10, minimum=1)
COMPUTE_WARM = env_bool("COMPUTE_WARM", True)  # each web process starts its light compute process at start-up

# The dashboard only loads its own scripts and styles; images may be blob: (photo previews);
# 'wasm-unsafe-eval' lets the uploader compile its WebAssembly SHA-256 (not JS eval).
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNELS_PREFIX", "privface")},
    }
}

# Celery: two queues. `cpu` for extraction, enrollment and encrypted search; `gpu` for
# training and federated jobs. Late acks + reject on worker loss: a task whose worker
# dies goes back to the queue instead of vanishing; jobs.actions.claim_job then decides
# whether to retry or fail it, and the reaper fails jobs whose worker stopped beating.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Longer than any job: a redelivery while the first delivery still runs would run it twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7 * 24 * 3600, minimum=60),
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_ALWAYS_EAGER", False)

# A running job whose heartbeat is older than this is taken for dead (its worker was killed).
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 120, minimum=5)
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10, minimum=1)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 2, minimum=1)
JOB_REPLAY_EVENTS = env_int("JOB_REPLAY_EVENTS", 500, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Encrypted search (inference app; docs/search.md) ---------------------------------
# Gallery templates, labels and thumbnails are AES-256-GCM encrypted at rest with
# TEMPLATE_KEY (32 bytes as 64 hex digits or base64, e.g. `openssl rand -hex 32`).
# Unset, it is derived from SECRET_KEY with HKDF-SHA256: production should set it, and
# keep it (changing it, or SECRET_KEY while it is unset, makes galleries unreadable).
TEMPLATE_KEY = env_str("TEMPLATE_KEY", "")
SEARCH_HE_PRESET = env_str("SEARCH_HE_PRESET", "ckks-8192")  # inference.engine.he_params.PRESETS
SEARCH_TIMEOUT_SECONDS = env_int("SEARCH_TIMEOUT_SECONDS", 30, minimum=1)  # then 504
# Celery tasks per search (a shard is >= one 8192-entry block): as many as the cpu queue has
# worker processes (2 in run.py webapp and docker/compose.yml). More shards only queue
# behind each other, each repeating the query's rotations: at 100k templates 2 shards
# answered in 0.72 s / 1.01 s (128-d / 512-d) where 4 took 0.95 s / 1.67 s (benchmarks.md).
SEARCH_MAX_SHARDS = env_int("SEARCH_MAX_SHARDS", 2, minimum=1)
SEARCH_SHARD_CACHE = env_int("SEARCH_SHARD_CACHE", 8, minimum=1)  # encoded shards kept per worker process
# A gallery's shards are encoded before its first search (when it becomes ready, when the
# Search page opens it, and for the galleries searched last when a worker starts): one warm
# task per worker process of the cpu queue (0: never),
# at most once per gallery version every SEARCH_WARM_EVERY_SECONDS, and a user's page may
# ask for SEARCH_WARM_PER_USER_MINUTE galleries a minute.
SEARCH_WARM_TASKS = env_int("SEARCH_WARM_TASKS", 2, minimum=0)
SEARCH_WARM_EVERY_SECONDS = env_int("SEARCH_WARM_EVERY_SECONDS", 60, minimum=1)
SEARCH_WARM_PER_USER_MINUTE = env_int("SEARCH_WARM_PER_USER_MINUTE", 10, minimum=1)
SEARCH_WARM_ON_START = env_int("SEARCH_WARM_ON_START", 4, minimum=0)  # galleries searched last, when a worker starts
SEARCH_MAX_TOP_K = env_int("SEARCH_MAX_TOP_K", 50, minimum=1)
SEARCH_MAX_IMAGE_BYTES = env_int("SEARCH_MAX_IMAGE_BYTES", 20 << 20, minimum=1 << 10)
GALLERY_UPLOAD_MAX_BYTES = env_int("GALLERY_UPLOAD_MAX_BYTES", 200 << 20, minimum=1 << 10)  # one photo upload
HE_CONTEXT_TTL_SECONDS = env_int("HE_CONTEXT_TTL_SECONDS", 3600, minimum=60)  # remote clients' public contexts
HE_MAX_CONTEXT_BYTES = env_int("HE_MAX_CONTEXT_BYTES", 8 << 20, minimum=1 << 16)
HE_MAX_QUERY_BYTES = env_int("HE_MAX_QUERY_BYTES", 1 << 20, minimum=1 << 16)
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **SPECTACULAR_SETTINGS.get("ENUM_NAME_OVERRIDES", {}),
    "GalleryStatusEnum": "inference.models.GalleryStatus",
    "GalleryModeEnum": "inference.models.GalleryMode",
    "SearchModeEnum": "inference.models.SearchMode",
}
# --- end of encrypted search settings -------------------------------------------------
