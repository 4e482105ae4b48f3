"""Where the shared RecordIO fixtures are: ``$PRIVFACE_FIXTURES`` or ``../shared/fixtures``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def fixtures_root() -> Path:
    """``$PRIVFACE_FIXTURES``, else ``shared/fixtures`` beside the repository."""
    return Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures"))


@pytest.fixture(scope="session")
def recordio_fixtures() -> Path:
    root = fixtures_root() / "recordio"
    if not (root / "webface_tiny" / "train.rec").is_file():
        pytest.fail(f"RecordIO fixtures not found under {root} (set PRIVFACE_FIXTURES)")
    return root
