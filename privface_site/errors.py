"""Errors that carry a message for a person, not a traceback.

Django-free on purpose: engine code raises these, the CLI prints them as one line
(exit 2) and the web tier turns them into HTTP 4xx responses or failed jobs.
"""


class UserError(Exception):
    """Bad input from a user. ``str(err)`` is the whole message to show."""

    exit_code = 2
