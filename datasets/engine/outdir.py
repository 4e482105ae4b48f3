"""All-or-nothing output directories: build next to the target, rename into place at the end.

A failed or cancelled extraction leaves no half-written output and does not touch what
was already at the target. A target that already holds something other than an earlier
extraction (marked by its ``summary.json``) is refused rather than replaced: the user may
have pointed at a directory they care about.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from datasets.engine.errors import DatasetError

MARKER = "summary.json"


def _sibling(target: str, tag: str) -> str:
    parent, name = os.path.split(target)
    return os.path.join(parent, f".{name}.{tag}-{os.urandom(4).hex()}")


def _check_target(target: str) -> None:
    if os.path.islink(target):
        raise DatasetError(f"output {target} is a symbolic link: give the directory it points to")
    if os.path.lexists(target) and not os.path.isdir(target):
        raise DatasetError(f"output {target} exists and is not a directory")
    if os.path.isdir(target) and os.listdir(target) and not os.path.exists(os.path.join(target, MARKER)):
        raise DatasetError(
            f"output directory {target} is not empty and holds no earlier extraction"
            f" ({MARKER}); choose a new or empty directory"
        )


@contextmanager
def staging_dir(output_dir: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a fresh directory beside ``output_dir``; publish it there if the body succeeds."""
    target = os.path.abspath(os.fspath(output_dir))
    _check_target(target)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        staging = _sibling(target, "partial")
        os.mkdir(staging)  # mode 0o777 minus umask, as a plain mkdir of the output would get
    except OSError as err:
        raise DatasetError(f"cannot create output next to {target}: {err.strerror}") from None
    try:
        yield staging
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _publish(staging: str, target: str) -> None:
    _check_target(target)  # again: something may have appeared there meanwhile
    if not os.path.isdir(target):
        os.rename(staging, target)
        return
    old = _sibling(target, "old")
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
