"""``.lst`` files: both conventions detected, cross-checked, and unsafe paths refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datasets.engine.extract import extract_rec
from datasets.engine.lstfile import IM2REC, INSIGHTFACE, read_lst
from privface_core.errors import UserError

from .builders import jpeg, write_im2rec, write_insightface


def test_conventions_detected_on_fixtures(recordio_fixtures: Path) -> None:
    convention, entries = read_lst(recordio_fixtures / "webface_tiny" / "train.lst")
    first = next(entries)
    assert convention == INSIGHTFACE
    assert (first.line, first.index, first.labels, first.path) == (1, None, (0.0,), "CASIA-WebFace/0000000/000.jpg")
    convention, entries = read_lst(recordio_fixtures / "im2rec_plain" / "train.lst")
    assert convention == IM2REC
    assert [e.index for e in entries] == list(range(12))


@pytest.fixture
def im2rec(tmp_path: Path) -> tuple[Path, Path]:
    return write_im2rec(tmp_path, [(0.0, jpeg()), (0.0, jpeg()), (1.0, jpeg()), ([2.0, 0.5], jpeg())])


def im2rec_lines() -> list[str]:
    return ["0\t0.000000\ta/0.jpg", "1\t0.000000\ta/1.jpg", "2\t1.000000\tb/2.jpg", "3\t2\t0.5\tc/3.jpg"]


def lst_error(tmp_path: Path, rec: Path, idx: Path, lines: list[str]) -> str:
    lst = tmp_path / "x.lst"
    lst.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    with pytest.raises(UserError) as err:
        extract_rec(rec, out, idx_path=idx, lst_path=lst)
    assert not out.exists()
    return str(err.value)


def test_im2rec_convention_checked(tmp_path: Path, im2rec: tuple[Path, Path]) -> None:
    lst = tmp_path / "ok.lst"
    lst.write_text("\n".join(im2rec_lines()) + "\n")
    summary = extract_rec(*im2rec[:1], tmp_path / "out", idx_path=im2rec[1], lst_path=lst)
    assert summary["lst_checked"] and summary["images"] == 4


def test_insightface_convention_checked(tmp_path: Path) -> None:
    rec, idx = write_insightface(tmp_path, [[jpeg(), jpeg()], [jpeg()]])
    lst = tmp_path / "ok.lst"
    lst.write_text("1\tw/0/a.jpg\t0\n1\tw/0/b.jpg\t0\n1\tw/1/a.jpg\t1\n")
    out = tmp_path / "out"
    extract_rec(rec, out, idx_path=idx, lst_path=lst)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == ["0/1.jpg", "0/2.jpg", "1/3.jpg"]
    lst.write_text("1\tw/0/a.jpg\t0\n1\tw/0/b.jpg\t1\n1\tw/1/a.jpg\t1\n")
    with pytest.raises(UserError, match=r"ok.lst line 2: label 1 does not match record key 2 label 0"):
        extract_rec(rec, tmp_path / "out2", idx_path=idx, lst_path=lst)


def test_label_mismatch_names_the_line(tmp_path: Path, im2rec: tuple[Path, Path]) -> None:
    lines = im2rec_lines()
    lines[2] = "2\t5.000000\tb/2.jpg"
    assert "x.lst line 3: label 5 does not match record key 2 label 1" in lst_error(tmp_path, *im2rec, lines)


def test_index_mismatch_names_the_line(tmp_path: Path, im2rec: tuple[Path, Path]) -> None:
    lines = im2rec_lines()
    lines[1], lines[2] = lines[2], lines[1]
    assert "x.lst line 2: index 2 does not match" in lst_error(tmp_path, *im2rec, lines)


def test_line_count_mismatch(tmp_path: Path, im2rec: tuple[Path, Path]) -> None:
    assert "fewer lines than images" in lst_error(tmp_path, *im2rec, im2rec_lines()[:3])
    message = lst_error(tmp_path, *im2rec, [*im2rec_lines(), "4\t0\td/4.jpg"])
    assert "x.lst line 5" in message and "more lines" in message


def test_mixed_conventions_refused(tmp_path: Path, im2rec: tuple[Path, Path]) -> None:
    lines = im2rec_lines()
    lines[1] = "1\ta/1.jpg\t0"
    assert "x.lst line 2: expected index<TAB>label<TAB>path" in lst_error(tmp_path, *im2rec, lines)


@pytest.mark.parametrize("path", ["../etc/passwd", "a/../../b.jpg", "/etc/passwd", "C:\\x.jpg", "a\\..\\..\\b"])
def test_path_traversal_refused(tmp_path: Path, im2rec: tuple[Path, Path], path: str) -> None:
    lines = im2rec_lines()
    lines[1] = f"1\t0.000000\t{path}"
    message = lst_error(tmp_path, *im2rec, lines)
    assert "x.lst line 2" in message and "absolute or contains '..'" in message


def test_path_traversal_refused_in_insightface_convention(tmp_path: Path) -> None:
    rec, idx = write_insightface(tmp_path, [[jpeg()]])
    message = lst_error(tmp_path, rec, idx, ["1\t../../secret.jpg\t0"])
    assert "x.lst line 1" in message and "'..'" in message


def test_empty_lst(tmp_path: Path, im2rec: tuple[Path, Path]) -> None:
    assert "is empty" in lst_error(tmp_path, *im2rec, [])
