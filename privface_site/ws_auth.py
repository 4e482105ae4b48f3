"""Token authentication for websockets (API clients send ``Authorization: Token <key>``);
browsers are authenticated by their session cookie through AuthMiddlewareStack."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


@database_sync_to_async
def _user_for_token(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token and token.user.is_active else None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.startswith("Token "):
            user = await _user_for_token(auth.removeprefix("Token ").strip())
            if user is not None:
                scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator:
    """Browsers always send Origin on a websocket: it must be this site's own origin
    (scheme, host and port of the request, as Django's CSRF check compares them) or one of
    CSRF_TRUSTED_ORIGINS, and the host must be in ALLOWED_HOSTS; that stops cross-site
    hijacking of the session cookie (``Origin: http://localhost:9999`` is refused on port
    8000). Clients without an Origin (the CLI, API scripts) cannot ride a browser's cookies,
    so they pass and authenticate by token."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        headers = {name: value for name, value in scope.get("headers") or []}
        origin = headers.get(b"origin")
        if origin is None or origin_allowed(origin.decode("latin-1"), scope, headers):
            return await self.app(scope, receive, send)
        from channels.security.websocket import WebsocketDenier

        return await WebsocketDenier()(scope, receive, send)


def origin_allowed(origin: str, scope: dict, headers: dict[bytes, bytes]) -> bool:
    from django.conf import settings
    from django.http.request import split_domain_port, validate_host

    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    origin = origin.strip().lower().rstrip("/")
    if origin == f"{scheme}://{host}":
        return True
    return origin in {trusted.lower().rstrip("/") for trusted in settings.CSRF_TRUSTED_ORIGINS}
