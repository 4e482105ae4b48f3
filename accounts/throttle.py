"""Login throttling, per account and per client address, in the shared cache (Redis).

Every failed authentication (``user_login_failed``: API login, token, admin) counts against
the user name and against the client's address. Past LOGIN_MAX_FAILURES_PER_ACCOUNT (or
..._PER_ADDRESS) failures within LOGIN_FAILURE_WINDOW_SECONDS, that name (or address) is
locked for LOGIN_LOCKOUT_SECONDS: attempts are answered 429 with Retry-After before any
password is checked, whether the name exists or not, so the answer and its timing say
nothing about which names exist. A success clears the account's failures.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver


def client_address(request) -> str:
    return (getattr(request, "META", None) or {}).get("REMOTE_ADDR") or "unknown"


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login-throttle:{kind}:{digest}"


def _subjects(request, username: str) -> list[tuple[str, str, int]]:
    """(kind, value, limit) for the name (case-folded, as people type it) and the address."""
    return [
        ("account", (username or "").strip().casefold(), settings.LOGIN_MAX_FAILURES_PER_ACCOUNT),
        ("address", client_address(request), settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


def retry_after(request, username: str) -> int | None:
    """Seconds until this name and address may try again; None when they may now."""
    now = time.time()
    locks = cache.get_many([_key(f"lock-{kind}", value) for kind, value, _ in _subjects(request, username)])
    until = max((float(v) for v in locks.values()), default=0.0)
    return max(1, math.ceil(until - now)) if until > now else None


def record_failure(request, username: str) -> None:
    window, lockout = settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.LOGIN_LOCKOUT_SECONDS
    for kind, value, limit in _subjects(request, username):
        key = _key(kind, value)
        cache.add(key, 0, timeout=window)  # the window starts at the first failure
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(_key(f"lock-{kind}", value), time.time() + lockout, timeout=lockout)


def record_success(username: str) -> None:
    cache.delete(_key("account", (username or "").strip().casefold()))


@receiver(user_login_failed, dispatch_uid="accounts.throttle.failed")
def _on_failure(sender, credentials: dict, request=None, **kwargs) -> None:
    record_failure(request, str(credentials.get("username") or ""))


@receiver(user_logged_in, dispatch_uid="accounts.throttle.succeeded")
def _on_login(sender, request, user, **kwargs) -> None:
    record_success(user.get_username())
