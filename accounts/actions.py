"""Creating users, for `run.py createuser` and tests."""

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def create_user(username: str, password: str, *, staff: bool = False) -> tuple[object, str]:
    """Create (or update the password of) a user; returns the user and their API token."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = user.is_superuser = staff
    user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key
