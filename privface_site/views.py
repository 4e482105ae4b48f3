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


# Django's own error pages, for errors that happen outside DRF (a body over
# DATA_UPLOAD_MAX_MEMORY_SIZE, a bad Host, an unknown /api/ URL): JSON under /api/, so API
# clients never get an HTML "Bad Request (400)"; Django's pages elsewhere.
_MESSAGES = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    500: "Internal server error; the administrators have the details.",
}


def _api_error(request: HttpRequest, status: int, fallback):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": _MESSAGES[status]}, status=status)
    return fallback()


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    from django.core.exceptions import RequestDataTooBig
    from django.views import defaults

    if isinstance(exception, RequestDataTooBig) and request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": f"the request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE}"
                                       " bytes for this endpoint"}, status=413)
    return _api_error(request, 400, lambda: defaults.bad_request(request, exception))


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    from django.views import defaults

    return _api_error(request, 403, lambda: defaults.permission_denied(request, exception))


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    from django.views import defaults

    return _api_error(request, 404, lambda: defaults.page_not_found(request, exception))


def server_error(request: HttpRequest) -> HttpResponse:
    from django.views import defaults

    return _api_error(request, 500, lambda: defaults.server_error(request))
