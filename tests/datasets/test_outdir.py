"""Output directories are all-or-nothing: failures and cancellation leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasets.engine.extract import extract_rec
from privface_core.errors import UserError

from .builders import jpeg, write_im2rec


class Cancelled(Exception):
    pass


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    # ~3 MB of records, so progress is reported before the end.
    noise = bytes(range(256)) * 400
    return write_im2rec(tmp_path, [(float(i % 3), jpeg() + noise) for i in range(30)])


def test_cancel_from_progress_leaves_no_output(tmp_path: Path, data: tuple[Path, Path]) -> None:
    def cancel(done: int, total: int) -> None:
        raise Cancelled

    before = entries(tmp_path)
    with pytest.raises(Cancelled):
        extract_rec(data[0], tmp_path / "out", idx_path=data[1], progress=cancel)
    assert entries(tmp_path) == before


def test_failure_keeps_earlier_extraction(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "out"
    extract_rec(data[0], out, idx_path=data[1])
    manifest = (out / "manifest.jsonl").read_text()
    broken = tmp_path / "broken.rec"
    broken.write_bytes(data[0].read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated"):
        extract_rec(broken, out)
    assert (out / "manifest.jsonl").read_text() == manifest
    assert len(list(out.rglob("*.jpg"))) == 30
    assert not [name for name in entries(tmp_path) if name.startswith(".out")]


def test_earlier_extraction_replaced_on_success(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "out"
    extract_rec(data[0], out, idx_path=data[1])
    (out / "stale.txt").write_text("from before")
    summary = extract_rec(data[0], out)
    assert summary["images"] == 30 and not (out / "stale.txt").exists()
    assert not [name for name in entries(tmp_path) if name.startswith(".out")]


def test_foreign_directory_refused_and_untouched(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not empty and holds no earlier extraction"):
        extract_rec(data[0], out)
    assert entries(out) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert extract_rec(data[0], empty)["images"] == 30
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="exists and is not a directory"):
        extract_rec(data[0], tmp_path / "file")


def test_symlinked_output_refused(tmp_path: Path, data: tuple[Path, Path]) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(UserError, match="symbolic link"):
        extract_rec(data[0], tmp_path / "link")
    assert entries(real) == []
