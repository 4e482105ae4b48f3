"""Django middleware of the site (the ASGI body limits are in limits.py)."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

MAX_ID = (1 << 63) - 1
_NUMBER = re.compile(r"^[0-9]+$")


class ApiGuardMiddleware:
    """A number in an /api/ path past the database's largest id (2**63 - 1) names no row:
    404 here, before a lookup can overflow (OverflowError, a 500, on SQLite)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            for segment in request.path.split("/"):
                if _NUMBER.match(segment) and (len(segment) > 19 or int(segment) > MAX_ID):
                    return JsonResponse({"detail": "Not found."}, status=404)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Content-Security-Policy (and friends) on every response that does not set its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        response.setdefault("Referrer-Policy", "same-origin")
        return response
