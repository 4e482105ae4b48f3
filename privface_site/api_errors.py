"""DRF exception handler: a UserError raised anywhere under a view becomes its 4xx
(400 by default, 409 Conflict, 413 TooLarge) with the message as ``detail``."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from privface_core.errors import UserError


def exception_handler(exc, context):
    if isinstance(exc, UserError):
        body = {"detail": str(exc), **getattr(exc, "extra", {})}
        field = getattr(exc, "field", None)
        if field:  # a config error names its field, as serializer errors do: {"field": ["message"]}
            body[field] = [str(exc)]
        return Response(body, status=exc.http_status)
    return drf_exception_handler(exc, context)
