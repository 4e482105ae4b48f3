"""Re-export of ``privface_core.errors`` for code not yet moved to it (to be deleted)."""

from privface_core.errors import Conflict, QuotaExceeded, TooLarge, UserError

__all__ = ["Conflict", "QuotaExceeded", "TooLarge", "UserError"]
