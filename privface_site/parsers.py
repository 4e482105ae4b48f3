"""DRF's JSON parser with a nesting bound: ``[`` x 50,000 raised RecursionError (a 500) in
the decoder on every JSON endpoint; now it is a 400 naming the limit, and a document that
parses is still refused past JSON_MAX_DEPTH levels, before any serializer walks it."""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.settings import api_settings


def depth_of(value) -> int:
    """Nesting depth of a decoded JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.JSON_MAX_DEPTH
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_constant=_refuse_constant) if api_settings.STRICT_JSON else json.loads(text)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {limit} levels deep") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if depth_of(data) > limit:
            raise ParseError(f"JSON parse error - nested more than {limit} levels deep")
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class RawBodyParser(BaseParser):
    """application/octet-stream for the views that read ``request.stream`` themselves (the HE
    payloads). It reads nothing: DRF's CSRF check of a session-authenticated POST asks for
    ``request.POST``, which parses the body, and without a parser for its type that was a 415
    for every browser upload (the CLI's token requests skip the check)."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}
