"""Typed readers for settings that come from the environment.

Each helper fails loudly (ImproperlyConfigured naming the variable) on a value it
cannot parse, so a typo in deployment stops start-up instead of running with a guess.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str) -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    value = _raw(name)
    return Path(value).expanduser().resolve() if value else default


def env_redis_url(name: str, default: str) -> str:
    url = env_str(name, default)
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"} or (parts.scheme != "unix" and not parts.hostname):
        raise ImproperlyConfigured(f"{name}={url!r} is not a redis:// URL")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={url!r} has a bad port") from None
    return url


_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
    "sqlite": "django.db.backends.sqlite3",
}


def parse_database_url(url: str, *, name: str = "DATABASE_URL") -> dict:
    """``postgres://user:pass@host:port/db?opt=v`` or ``sqlite:///abs/path`` → Django DATABASES entry."""
    parts = urlsplit(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        raise ImproperlyConfigured(f"{name}={url!r}: scheme must be one of {sorted(_ENGINES)}")
    if engine.endswith("sqlite3"):
        # sqlite:////abs/file.db → /abs/file.db; sqlite:///rel.db → rel.db (as dj-database-url)
        path = unquote(parts.path)[1:]
        if not path:
            raise ImproperlyConfigured(f"{name}={url!r}: sqlite URL needs a file path (sqlite:////abs/file.db)")
        # The web process and the worker write concurrently: WAL, a busy timeout and
        # IMMEDIATE transactions turn "database is locked" into a short wait.
        return {
            "ENGINE": engine,
            "NAME": path,
            "CONN_MAX_AGE": 60,  # reopening the file per request cost ~5 % of upload throughput
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"{name}={url!r}: no database name")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name}={url!r} has a bad port") from None
    options: dict = dict(parse_qsl(parts.query))
    # A per-process pool (psycopg_pool): opening a PostgreSQL connection per request cost
    # ~7 ms of a 20 ms API request (bench/web_load.py). The web launcher turns it on for its
    # Daphne processes; 0 (the default elsewhere) keeps one connection per request/task.
    pool_size = env_int("DATABASE_POOL_MAX_SIZE", 0, minimum=0)
    if pool_size:
        options["pool"] = {"min_size": 1, "max_size": pool_size,
                           "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1)}
    return {
        "ENGINE": engine,
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "OPTIONS": options,
        # 0: closed at the end of each request. Under ASGI every request runs in a thread of
        # its own, so a kept connection stays with a thread that is gone: under load that
        # exhausted PostgreSQL's max_connections ("too many clients", bench/web_load.py).
        # (A pool needs 0: Django refuses persistent connections with one.)
        "CONN_MAX_AGE": 0 if pool_size else env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        "CONN_HEALTH_CHECKS": True,
    }


def env_database(name: str, default: str) -> dict:
    return parse_database_url(env_str(name, default), name=name)


def env_secret_key(name: str, key_file: Path) -> str:
    """The SECRET_KEY from the environment, else one generated once into ``key_file``."""
    value = _raw(name)
    if value:
        return value
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting together must agree on one key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
