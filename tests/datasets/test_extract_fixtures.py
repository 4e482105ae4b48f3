"""Extracting the MXNet-written fixtures, checked image for image."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from datasets.engine.extract import extract_rec


def raw_records(rec: Path) -> list[bytes]:
    """An independent minimal reader (whole records only, as the fixtures hold)."""
    data, out, pos = rec.read_bytes(), [], 0
    while pos < len(data):
        magic, lrec = struct.unpack_from("<II", data, pos)
        assert magic == 0xCED7230A and lrec >> 29 == 0
        length = lrec & ((1 << 29) - 1)
        out.append(data[pos + 8 : pos + 8 + length])
        pos += 8 + (length + 3) // 4 * 4
    return out


def payload(record: bytes) -> tuple[float, int, bytes]:
    flag, label, rid, _ = struct.unpack_from("<IfQQ", record)
    assert flag == 0
    return label, rid, record[24:]


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_webface_tiny_image_for_image(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "webface_tiny"
    out = tmp_path / "out"
    summary = extract_rec(src / "train.rec", out, idx_path=src / "train.idx", lst_path=src / "train.lst")
    assert summary["layout"] == "insightface"
    assert summary["images"] == 80 and summary["identities"] == 10
    assert summary["identity_records"] == 10
    assert summary["per_identity"] == {str(i): 8 for i in range(10)}
    assert summary["image_size"] == {"width": 112, "height": 112}
    assert json.loads((out / "summary.json").read_text()) == summary

    records = raw_records(src / "train.rec")
    rows = manifest(out)
    assert [row["key"] for row in rows] == list(range(1, 81))
    for row in rows:
        label, rid, image = payload(records[row["key"]])
        assert row["path"] == f"{int(label)}/{row['key']}.jpg"
        assert row["labels"] == [label] and row["id"] == rid == row["key"] and row["id2"] == 0
        written = (out / row["path"]).read_bytes()
        assert written == image  # unchanged bytes, no re-encoding
        assert row["sha256"] == hashlib.sha256(written).hexdigest()
    # Only images: header (key 0) and identity records (81..90) wrote nothing.
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert len(files) == 80 + 2
    assert not list(tmp_path.glob(".out.*"))  # no staging dir left behind


def test_decoded_with_pillow_is_rgb_and_with_opencv_bgr(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "webface_tiny"
    out = tmp_path / "out"
    extract_rec(src / "train.rec", out, idx_path=src / "train.idx")
    for path in [out / "0" / "1.jpg", out / "9" / "80.jpg", out / "4" / "40.jpg"]:
        rgb = np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert rgb.shape == bgr.shape == (112, 112, 3)
        # Same pixels, channels reversed (decoders may round the IDCT a little differently).
        assert np.abs(rgb.astype(int) - bgr[:, :, ::-1].astype(int)).mean() < 2.0


def test_im2rec_plain_image_for_image(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "im2rec_plain"
    out = tmp_path / "out"
    summary = extract_rec(src / "train.rec", out, idx_path=src / "train.idx", lst_path=src / "train.lst")
    assert summary["layout"] == "im2rec"
    assert summary["images"] == 12 and summary["per_identity"] == {str(i): 3 for i in range(4)}
    records = raw_records(src / "train.rec")
    rows = manifest(out)
    assert [row["key"] for row in rows] == list(range(12))
    for row in rows:
        label, _, image = payload(records[row["key"]])
        assert int(label) == row["key"] // 3
        assert (out / row["path"]).read_bytes() == image
        assert Image.open(out / row["path"]).size == (112, 112)


def test_scan_without_idx_gives_the_same_output(recordio_fixtures: Path, tmp_path: Path) -> None:
    for name in ("webface_tiny", "im2rec_plain"):
        src = recordio_fixtures / name
        with_idx, without = tmp_path / f"{name}-idx", tmp_path / f"{name}-scan"
        extract_rec(src / "train.rec", with_idx, idx_path=src / "train.idx")
        extract_rec(src / "train.rec", without)
        assert manifest(with_idx) == manifest(without)


def test_progress_reaches_total(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "webface_tiny"
    calls: list[tuple[int, int]] = []
    extract_rec(src / "train.rec", tmp_path / "out", progress=lambda d, t: calls.append((d, t)))
    size = (src / "train.rec").stat().st_size
    assert calls[-1] == (size, size)
    assert all(t == size and 0 <= d <= t for d, t in calls)
