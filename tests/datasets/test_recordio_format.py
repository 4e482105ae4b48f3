"""RecordIO framing: multi-part records, the writer, and every kind of broken file."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from datasets.engine import irheader
from datasets.engine.extract import extract_rec
from datasets.engine.recordio import MAGIC_BYTES, RecordFile
from datasets.engine.writer import IndexedRecordWriter, frame_record
from privface_core.errors import UserError

from .builders import jpeg, png, write_im2rec, write_insightface

M = MAGIC_BYTES


def parts(framed: bytes) -> list[tuple[int, int]]:
    """(cflag, length) of each part of one framed record."""
    out, pos = [], 0
    while pos < len(framed):
        magic, lrec = struct.unpack_from("<II", framed, pos)
        assert magic == 0xCED7230A
        length = lrec & ((1 << 29) - 1)
        out.append((lrec >> 29, length))
        pos += 8 + (length + 3) // 4 * 4
    return out


def test_writer_splits_at_aligned_magic_words_only() -> None:
    assert parts(frame_record(b"abcde")) == [(0, 5)]
    assert parts(frame_record(b"ab" + M + b"cd")) == [(0, 8)]  # unaligned: kept whole
    assert parts(frame_record(b"abcd" + M + b"xy")) == [(1, 4), (3, 2)]
    assert parts(frame_record(M + b"abcd" + M + M + b"z")) == [(1, 0), (2, 4), (2, 0), (3, 1)]
    assert parts(frame_record(b"abcd" + M)) == [(1, 4), (3, 0)]


@pytest.mark.parametrize(
    "data",
    [b"abcd" + M + b"xy", M, M + M, M + b"abcd" + M + M + b"xyz" + M, b"ab" + M + b"cd" + M + b"q", b""],
)
def test_multi_part_records_read_back_identical(tmp_path: Path, data: bytes) -> None:
    rec = tmp_path / "x.rec"
    rec.write_bytes(frame_record(data) + frame_record(b"next"))
    with RecordFile(rec) as f:
        assert [d for _, d in f.scan()] == [data, b"next"]
        assert f.read_at(0) == data


def test_image_with_magic_word_at_aligned_offset_extracts_unchanged(tmp_path: Path) -> None:
    # IRHeader is 24 bytes: a JPEG comment put right after SOI puts these bytes at record
    # offset 32, aligned, so the writer splits the record into three parts.
    base = jpeg()
    text = b".." + M + b"...." + M + b"tail"
    image = base[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + base[2:]
    assert (24 + image.index(M)) % 4 == 0
    rec, idx = write_im2rec(tmp_path, [(0.0, jpeg((1, 2, 3))), (1.0, image), (1.0, png())])
    with RecordFile(rec) as f:
        offsets = [offset for offset, _ in f.scan()]
        assert [c for c, _ in parts(rec.read_bytes()[offsets[1] : offsets[2]])] == [1, 2, 3]
    out = tmp_path / "out"
    summary = extract_rec(rec, out, idx_path=idx)
    assert (out / "1" / "1.jpg").read_bytes() == image
    assert (out / "1" / "2.png").read_bytes() == png()
    assert summary["image_formats"] == {"jpg": 2, "png": 1}


def test_multi_label_headers(tmp_path: Path) -> None:
    rec, idx = write_im2rec(tmp_path, [([3.0, 0.25, -1.5], jpeg()), (2.0, jpeg())])
    out = tmp_path / "out"
    extract_rec(rec, out, idx_path=idx)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert rows[0]["labels"] == [3.0, 0.25, -1.5] and rows[0]["path"] == "3/0.jpg"
    assert rows[1]["labels"] == [2.0]
    header, start = irheader.unpack(irheader.pack([3.0, 0.25, -1.5], 7, 9) + b"x", "t")
    assert header == irheader.IRHeader(3, (3.0, 0.25, -1.5), 7, 9) and start == 36


def extract_error(tmp_path: Path, rec: Path, idx: Path | None = None) -> str:
    out = tmp_path / "out"
    with pytest.raises(UserError) as err:
        extract_rec(rec, out, idx_path=idx)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.fixture
def good(tmp_path: Path) -> tuple[Path, Path]:
    return write_insightface(tmp_path, [[jpeg(), jpeg()], [jpeg((0, 0, 255))]])


def test_truncated_record(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    data = rec.read_bytes()
    rec.write_bytes(data[: len(data) - 30])
    assert "truncated record" in extract_error(tmp_path, rec, idx)
    rec.write_bytes(data[: len(data) - 3])  # inside the last frame
    assert "truncated record" in extract_error(tmp_path, rec)


def test_bad_magic_mid_file(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, _ = good
    data = bytearray(rec.read_bytes())
    with RecordFile(rec) as f:
        second = [offset for offset, _ in f.scan()][2]
    data[second] ^= 0xFF
    rec.write_bytes(bytes(data))
    assert "bad magic 0x" in extract_error(tmp_path, rec)
    assert f"at byte {second}" in extract_error(tmp_path, rec)


def test_idx_offset_past_eof(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    lines = idx.read_text().splitlines()
    lines[2] = "2\t99999999"
    idx.write_text("\n".join(lines) + "\n")
    message = extract_error(tmp_path, rec, idx)
    assert "line 3" in message and "past the end" in message


def test_idx_offset_mid_record(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    lines = idx.read_text().splitlines()
    key, offset = lines[2].split("\t")
    lines[2] = f"{key}\t{int(offset) + 8}"
    idx.write_text("\n".join(lines) + "\n")
    message = extract_error(tmp_path, rec, idx)
    assert "line 3" in message and "not at its start" in message
    with RecordFile(rec) as f, pytest.raises(UserError, match="bad magic"):
        f.read_at(int(offset) + 8)


def test_idx_malformed_and_duplicate_lines(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    lines = idx.read_text().splitlines()
    idx.write_text("\n".join([*lines[:3], "garbage", *lines[3:]]) + "\n")
    assert "line 4: expected 'key<TAB>offset'" in extract_error(tmp_path, rec, idx)
    idx.write_text("\n".join([*lines, f"1\t{lines[-1].split()[1]}"]) + "\n")
    assert "repeats" in extract_error(tmp_path, rec, idx)


@pytest.mark.parametrize("label", [-1.0, float("nan"), 2.5, float("inf")])
def test_bad_labels(tmp_path: Path, label: float) -> None:
    rec, idx = write_im2rec(tmp_path, [(0.0, jpeg()), (label, jpeg())])
    message = extract_error(tmp_path, rec, idx)
    assert "record key 1" in message and "not a class index" in message


def test_zero_byte_file(tmp_path: Path) -> None:
    rec = tmp_path / "empty.rec"
    rec.write_bytes(b"")
    assert "empty (0 bytes)" in extract_error(tmp_path, rec)


@pytest.mark.parametrize("content", ["jpeg", "idx", "text"])
def test_wrong_file_given_as_rec(tmp_path: Path, good: tuple[Path, Path], content: str) -> None:
    wrong = tmp_path / "wrong.rec"
    wrong.write_bytes({"jpeg": jpeg(), "idx": good[1].read_bytes(), "text": b"hello world\n"}[content])
    assert "is not a RecordIO file" in extract_error(tmp_path, wrong)


def test_record_without_image_payload(tmp_path: Path) -> None:
    rec, idx = write_im2rec(tmp_path, [(0.0, jpeg()), (0.0, b"GIF89a not supported")])
    assert "neither JPEG nor PNG" in extract_error(tmp_path, rec, idx)


def test_unknown_first_record(tmp_path: Path) -> None:
    rec, idx = write_im2rec(tmp_path, [(0.0, b""), (0.0, jpeg())])
    assert "unknown layout" in extract_error(tmp_path, rec, idx)


def test_insightface_identity_record_out_of_range(tmp_path: Path) -> None:
    rec, idx = tmp_path / "d.rec", tmp_path / "d.idx"
    with IndexedRecordWriter(rec, idx) as writer:
        writer.write_packed(0, [2, 3], b"", 0)
        writer.write_packed(1, 0.0, jpeg(), 1)
        writer.write_packed(2, [1, 5], b"", 0)
    assert "outside the image keys" in extract_error(tmp_path, rec, idx)


def test_idx_blank_lines_and_unsorted_offsets_are_fine(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    lines = idx.read_text().splitlines()
    idx.write_text("\n".join(["", *reversed(lines), "", ""]) + "\n")
    out = tmp_path / "out"
    assert extract_rec(rec, out, idx_path=idx)["images"] == 3


def test_idx_of_another_file(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, _ = good
    _, other_idx = write_im2rec(tmp_path, [(0.0, jpeg((9, 9, 9), size=8)), (0.0, jpeg())], name="other")
    message = extract_error(tmp_path, rec, other_idx)
    assert "other.idx" in message and "wrong or stale .idx file" in message


def test_record_missing_from_idx(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    lines = idx.read_text().splitlines()
    idx.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    assert "has no entry in" in extract_error(tmp_path, rec, idx)


def test_insightface_key_beyond_header_ranges(tmp_path: Path) -> None:
    rec, idx = tmp_path / "d.rec", tmp_path / "d.idx"
    with IndexedRecordWriter(rec, idx) as writer:
        writer.write_packed(0, [2, 3], b"", 0)
        writer.write_packed(1, 0.0, jpeg(), 1)
        writer.write_packed(2, [1, 2], b"", 0)
        writer.write_packed(3, 0.0, jpeg(), 3)
    assert "outside the ranges of the insightface header" in extract_error(tmp_path, rec, idx)


def test_directory_given_as_rec(tmp_path: Path) -> None:
    assert "is a directory" in extract_error(tmp_path, tmp_path)


def test_inline_and_threaded_writers_agree(tmp_path: Path) -> None:
    rec, idx = write_insightface(tmp_path, [[jpeg((i, j, 0)) for j in range(70)] for i in range(4)])
    a, b = tmp_path / "a", tmp_path / "b"
    extract_rec(rec, a, idx_path=idx, threads=0)
    extract_rec(rec, b, idx_path=idx, threads=3)
    assert (a / "manifest.jsonl").read_bytes() == (b / "manifest.jsonl").read_bytes()
    assert len((a / "manifest.jsonl").read_text().splitlines()) == 280


def test_record_shorter_than_irheader(tmp_path: Path) -> None:
    rec = tmp_path / "short.rec"
    rec.write_bytes(frame_record(b"0123456789"))
    assert "shorter than the 24-byte IRHeader" in extract_error(tmp_path, rec)


def test_negative_idx_key(tmp_path: Path, good: tuple[Path, Path]) -> None:
    rec, idx = good
    lines = idx.read_text().splitlines()
    lines[1] = "-1\t" + lines[1].split()[1]
    idx.write_text("\n".join(lines) + "\n")
    assert "line 2: negative key -1" in extract_error(tmp_path, rec, idx)


def test_broken_multi_part_sequences(tmp_path: Path) -> None:
    split = frame_record(b"abcd" + M + b"xy")  # parts: cflag 1, cflag 3
    first_part, last_part = split[:12], split[12:]
    rec = tmp_path / "parts.rec"
    rec.write_bytes(first_part + frame_record(b"whole"))
    assert "expected a continuation part, found cflag 0" in extract_error(tmp_path, rec)
    rec.write_bytes(frame_record(irheader.pack(0.0, 0) + jpeg()) + last_part)
    assert "middle of a multi-part record (cflag 3)" in extract_error(tmp_path, rec)
    rec.write_bytes(first_part)
    assert "truncated record" in extract_error(tmp_path, rec)
