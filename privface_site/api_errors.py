"""DRF exception handler: a UserError raised anywhere under a view becomes a 400."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import UserError


def exception_handler(exc, context):
    if isinstance(exc, UserError):
        return Response({"detail": str(exc)}, status=400)
    return drf_exception_handler(exc, context)
