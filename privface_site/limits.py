"""Request bodies are judged by their headers before a byte of them is read.

Every route has a body limit (``body_limit``): upload chunks UPLOAD_CHUNK_MAX_BYTES, photo
uploads GALLERY_UPLOAD_MAX_BYTES, search images and HE blobs their own limits, everything
else REQUEST_MAX_BODY_BYTES. ``refusal`` decides from the method, path and headers alone:

- a Content-Length over the limit is 413;
- a Content-Length that is not a plain ASCII number is 400;
- a large body (over ANONYMOUS_BODY_BYTES) that carries no credentials at all (no
  ``Authorization`` header, no session cookie) is 401 at once: authentication would refuse
  it anyway, after the whole body had been received.

Two places apply it: ``BodyLimitMiddleware`` (ASGI, in front of Django: it also counts the
bytes of bodies without a Content-Length) and the Daphne request in daphne_server.py, which
refuses as soon as the headers are in, before Twisted receives the body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.conf import settings

# Multipart framing (boundaries, part headers, small form fields) around a file.
MULTIPART_SLACK = 64 << 10
ANONYMOUS_BODY_BYTES = 64 << 10
MAX_ID = (1 << 63) - 1

_RULES: list[tuple[str, re.Pattern[str], str, int]] = [
    ("PUT", re.compile(r"^/api/datasets/\d+/files/\d+/chunk/$"), "UPLOAD_CHUNK_MAX_BYTES", 0),
    ("POST", re.compile(r"^/api/galleries/(\d+/images/)?$"), "GALLERY_UPLOAD_MAX_BYTES", MULTIPART_SLACK),
    ("POST", re.compile(r"^/api/galleries/\d+/search/$"), "SEARCH_MAX_IMAGE_BYTES", MULTIPART_SLACK),
    ("POST", re.compile(r"^/api/galleries/\d+/encrypted-search/$"), "HE_MAX_QUERY_BYTES", 0),
    ("POST", re.compile(r"^/api/he/contexts/$"), "HE_MAX_CONTEXT_BYTES", 0),
]
# Anonymous by design: these may carry a (small) body without credentials.
_PUBLIC = re.compile(r"^/(api/auth/|admin/login/)")


def body_limit(method: str, path: str) -> int:
    for rule_method, pattern, setting, slack in _RULES:
        if method == rule_method and pattern.match(path):
            return getattr(settings, setting) + slack
    return settings.REQUEST_MAX_BODY_BYTES


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def reason(self) -> bytes:
        return {400: b"Bad Request", 401: b"Unauthorized", 413: b"Content Too Large"}[self.status]

    def body(self) -> bytes:
        return json.dumps({"detail": self.detail}).encode()

    def header_list(self) -> list[tuple[bytes, bytes]]:
        body = self.body()
        return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"), *self.headers]

    def raw_response(self) -> bytes:
        """The whole HTTP/1.1 response, for servers that answer before the app runs."""
        lines = [b"HTTP/1.1 %d %s" % (self.status, self.reason)]
        lines += [name + b": " + value for name, value in self.header_list()]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body()


def too_large(limit: int) -> Refusal:
    return Refusal(413, f"the request body is over the limit of {limit} bytes for this endpoint")


def parse_length(raw: bytes | None) -> int | None:
    """Content-Length as a number; None when absent; -1 when malformed."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or len(text) > 19 or not all(48 <= b <= 57 for b in text):
        return -1
    return int(text)


def _has_credentials(headers: dict[bytes, bytes]) -> bool:
    if headers.get(b"authorization"):
        return True
    cookie = headers.get(b"cookie", b"")
    return settings.SESSION_COOKIE_NAME.encode() + b"=" in cookie


def refusal(method: str, path: str, headers: dict[bytes, bytes]) -> Refusal | None:
    """Why a request must be refused from its headers alone, or None. ``headers``: lower-case names."""
    length = parse_length(headers.get(b"content-length"))
    if length == -1:
        return Refusal(400, "Content-Length must be a whole number of bytes")
    limit = body_limit(method, path)
    if length is not None and length > limit:
        return too_large(limit)
    large = (length is None and b"transfer-encoding" in headers) or (length or 0) > ANONYMOUS_BODY_BYTES
    if large and path.startswith("/api/") and not _PUBLIC.match(path) and not _has_credentials(headers):
        return Refusal(401, "Authentication credentials were not provided.", [(b"www-authenticate", b"Token")])
    return None


class BodyLimitMiddleware:
    """ASGI middleware: refuse from the headers; cut off bodies without a Content-Length
    (chunked) once they pass the limit, answering 413 instead of the app."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.lower(): value for name, value in scope.get("headers") or []}
        refused = refusal(scope["method"], scope["path"], headers)
        if refused is not None:
            return await _answer(send, refused)
        limit = body_limit(scope["method"], scope["path"])
        state = {"received": 0, "refused": False}

        async def counted_receive():
            message = await receive()
            if message["type"] == "http.request" and not state["refused"]:
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    await _answer(send, too_large(limit))
                    return {"type": "http.disconnect"}  # the app stops reading and answers nothing
            return message

        async def guarded_send(message):
            if not state["refused"]:
                await send(message)

        return await self.app(scope, counted_receive, guarded_send)


async def _answer(send, refused: Refusal) -> None:
    await send({"type": "http.response.start", "status": refused.status, "headers": refused.header_list()})
    await send({"type": "http.response.body", "body": refused.body()})
