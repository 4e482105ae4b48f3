"""Every object belongs to its owner: one queryset method decides who may see it, so the
API and the websockets answer 404 to everyone else in the same way."""

from __future__ import annotations

from django.db import models


class OwnedQuerySet(models.QuerySet):
    def visible_to(self, user) -> OwnedQuerySet:
        """The user's own rows; every row for staff; nothing for anonymous users."""
        if not user.is_authenticated:
            return self.none()
        return self if user.is_staff else self.filter(owner=user)
