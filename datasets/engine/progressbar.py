"""A plain-text progress bar for the terminal (no tqdm: one dependency less in the CLI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30
# Redraw at most this often: a redraw per record would cost more than the record.
_INTERVAL_S = 0.1


class ProgressBar:
    """A ``progress(done, total)`` callback drawing ``label [####    ]  42%  12.3/30.0 MB``."""

    def __init__(self, label: str, stream: TextIO | None = None, unit: str = "MB") -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.unit = unit
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < _INTERVAL_S:
            return
        self._last = now
        fraction = done / total if total else 1.0
        filled = int(fraction * _WIDTH)
        if self.unit == "MB":
            amount = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            amount = f"{done}/{total} {self.unit}"
        bar = "#" * filled + " " * (_WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%}  {amount}")
        self._drawn = True
        if done >= total:
            self.finish()
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line (once) so later output starts on a fresh one."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
