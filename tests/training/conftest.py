"""Shared setup for the training-engine tests (no database, no Django)."""

import os

# Quiet TensorFlow's C++ logging before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures"))
WEBFACE_TINY = FIXTURES / "recordio" / "webface_tiny"


@pytest.fixture(scope="session")
def webface_tiny() -> Path:
    """insightface-layout .rec/.idx, 80 images of 10 identities, plus lfw_tiny.bin (20 pairs)."""
    if not (WEBFACE_TINY / "train.rec").is_file():
        pytest.fail(f"fixture {WEBFACE_TINY} missing (set PRIVFACE_FIXTURES)")
    return WEBFACE_TINY


@pytest.fixture(scope="session")
def webface_tiny_folder(webface_tiny, tmp_path_factory) -> Path:
    """The same dataset extracted to <label>/<key>.jpg + manifest.jsonl."""
    from datasets.engine.extract import extract_rec

    out = tmp_path_factory.mktemp("extracted") / "webface_tiny"
    extract_rec(webface_tiny / "train.rec", out, idx_path=webface_tiny / "train.idx", threads=0)
    return out
