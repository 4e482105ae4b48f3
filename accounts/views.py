"""Browser login (session + CSRF) and API tokens."""

from django.contrib import admin
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import throttle
from .serializers import CredentialsSerializer, UserSerializer

BAD_CREDENTIALS = {"detail": "Invalid username or password."}


def _throttled(wait: int) -> Throttled:
    return Throttled(wait=wait, detail=f"Too many failed logins; try again in {wait} seconds.")


def _authenticate(request: Request):
    """The user for these credentials, or None; 429 while the name or address is locked
    (checked before the password, so known and unknown names are answered alike)."""
    creds = CredentialsSerializer(data=request.data)
    creds.is_valid(raise_exception=True)
    wait = throttle.retry_after(request._request, creds.validated_data["username"])
    if wait is not None:
        raise _throttled(wait)
    user = authenticate(request._request, **creds.validated_data)
    if user is not None:
        throttle.record_success(creds.validated_data["username"])
    return user


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login form under the same throttle as the API."""
    if request.method == "POST":
        wait = throttle.retry_after(request, request.POST.get("username", ""))
        if wait is not None:
            response = HttpResponse(f"Too many failed logins; try again in {wait} seconds.\n", status=429,
                                    content_type="text/plain")
            response["Retry-After"] = str(wait)
            return response
    return admin.site.login(request)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"csrfToken": get_token(request)})


@method_decorator(csrf_protect, name="dispatch")
class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=CredentialsSerializer, responses=UserSerializer)
    def post(self, request: Request) -> Response:
        user = _authenticate(request)
        if user is None:
            return Response(BAD_CREDENTIALS, status=status.HTTP_400_BAD_REQUEST)
        login(request._request, user)
        return Response(UserSerializer(user).data)


class LogoutView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class TokenView(APIView):
    """Exchange a username and password for the user's API token (for the CLI)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=CredentialsSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        user = _authenticate(request)
        if user is None:
            return Response(BAD_CREDENTIALS, status=status.HTTP_400_BAD_REQUEST)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
