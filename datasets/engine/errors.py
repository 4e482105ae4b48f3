"""The one error type the dataset engine raises for bad input."""

from privface_core.errors import UserError


class DatasetError(UserError):
    """A dataset file is unreadable, corrupt, inconsistent or unsafe.

    Subclasses ``UserError`` so the CLI prints it as one line (exit 2) and the web tier
    reports it as the user's fault rather than a crash.
    """
