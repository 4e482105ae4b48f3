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
    """Browsers always send Origin on a websocket: check it against ALLOWED_HOSTS to stop
    cross-site hijacking of the session cookie. Clients without an Origin (the CLI, API
    scripts) cannot ride a browser's cookies, so they pass and authenticate by token."""

    def __init__(self, app):
        from channels.security.websocket import AllowedHostsOriginValidator

        self.app = app
        self.checked = AllowedHostsOriginValidator(app)

    async def __call__(self, scope, receive, send):
        has_origin = any(name == b"origin" for name, _ in scope.get("headers") or [])
        return await (self.checked if has_origin else self.app)(scope, receive, send)
