"""Errors that carry a message for a person, not a traceback.

Django-free on purpose: engine code raises these, the CLI prints them as one line
(exit 2) and the web tier turns them into HTTP 4xx responses or failed jobs.
"""


class UserError(Exception):
    """Bad input from a user. ``str(err)`` is the whole message to show."""

    exit_code = 2
    http_status = 400


class Conflict(UserError):
    """The request does not fit the object's current state (HTTP 409)."""

    http_status = 409


class TooLarge(UserError):
    """Over a size limit or quota (HTTP 413)."""

    http_status = 413


class QuotaExceeded(UserError):
    """Too much at once for one user (HTTP 429)."""

    http_status = 429


class ConfigError(UserError):
    """A bad value of a named parameter. ``field`` is the config field, which is also the
    CLI flag (``--field``) and the API field (``{"field": ["message"]}``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"--{name} {message}")
        self.field = name
