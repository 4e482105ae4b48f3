"""ASGI entry point: Django for HTTP, Channels for websockets (session or token auth)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privface_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from jobs.routing import websocket_urlpatterns  # noqa: E402

from .limits import BodyLimitMiddleware  # noqa: E402
from .ws_auth import BrowserOriginValidator, TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies are judged by their headers (413, 401) before Django reads a byte of them.
        "http": BodyLimitMiddleware(django_asgi_app),
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
