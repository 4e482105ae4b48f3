"""Tiny RecordIO datasets written in tests with the MXNet-compatible writer."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from datasets.engine.writer import IndexedRecordWriter


def jpeg(colour: tuple[int, int, int] = (200, 30, 40), size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG")
    return buf.getvalue()


def png(colour: tuple[int, int, int] = (10, 200, 40), size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def write_im2rec(
    directory: Path, images: list[tuple[float | list[float], bytes]], name: str = "data"
) -> tuple[Path, Path]:
    """A plain im2rec-layout .rec/.idx: key i = id i, one image per entry."""
    rec, idx = directory / f"{name}.rec", directory / f"{name}.idx"
    with IndexedRecordWriter(rec, idx) as writer:
        for key, (labels, payload) in enumerate(images):
            writer.write_packed(key, labels, payload, key)
    return rec, idx


def write_insightface(directory: Path, per_identity: list[list[bytes]], name: str = "data") -> tuple[Path, Path]:
    """An insightface-layout .rec/.idx: header, images by identity, identity records."""
    rec, idx = directory / f"{name}.rec", directory / f"{name}.idx"
    count = sum(len(images) for images in per_identity)
    first_identity = count + 1
    with IndexedRecordWriter(rec, idx) as writer:
        writer.write_packed(0, [first_identity, first_identity + len(per_identity)], b"", 0)
        key, ranges = 1, []
        for identity, images in enumerate(per_identity):
            ranges.append((key, key + len(images)))
            for payload in images:
                writer.write_packed(key, float(identity), payload, key)
                key += 1
        for identity, (start, end) in enumerate(ranges):
            writer.write_packed(first_identity + identity, [start, end], b"", 0)
    return rec, idx
