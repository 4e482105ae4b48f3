"""Serves the built dashboard (frontend/dist/index.html) for every non-API path."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie

NOT_BUILT = "The dashboard is not built yet: run `make run` (or `cd frontend && npm ci && npm run build`).\n"


@ensure_csrf_cookie
def dashboard(request: HttpRequest) -> HttpResponse:
    index = settings.FRONTEND_DIST / "index.html"
    try:
        html = index.read_text(encoding="utf-8")
    except FileNotFoundError:
        return HttpResponse(NOT_BUILT, status=503, content_type="text/plain")
    return HttpResponse(html)
