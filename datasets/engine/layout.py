"""Telling the insightface layout from the plain im2rec one by the first record."""

from __future__ import annotations

from typing import NamedTuple

from datasets.engine import irheader
from datasets.engine.errors import DatasetError
from datasets.engine.imagetype import extension

INSIGHTFACE = "insightface"
IM2REC = "im2rec"


class Layout(NamedTuple):
    """Which keys hold what.

    insightface: key 0 is a header whose labels are ``[first identity key, end key)``;
    images are keys ``1 .. first identity key - 1``; identity records (flag 2, labels
    ``[start, end)`` of that identity's image keys) fill the rest. im2rec: every record is
    an image and the bounds are unused.
    """

    name: str
    identity_start: int = 0
    identity_end: int = 0

    def kind(self, key: int) -> str:
        """``"header"``, ``"image"`` or ``"identity"`` for a record key."""
        if self.name == IM2REC:
            return "image"
        if key == 0:
            return "header"
        if key < self.identity_start:
            return "image"
        if key < self.identity_end:
            return "identity"
        return "stray"


def detect(first_record: bytes, where: str) -> Layout:
    """Decide the layout from the file's first record (key 0)."""
    header, start = irheader.unpack(first_record, where)
    if extension(first_record[start : start + 8]) is not None:
        return Layout(IM2REC)
    if header.flag >= 2 and start == len(first_record):
        first, end = header.labels[0], header.labels[1]
        if not (first.is_integer() and end.is_integer() and 1 <= first <= end):
            raise DatasetError(
                f"{where}: insightface header record has invalid ranges {list(header.labels)}"
                " (needs whole numbers 1 <= first identity key <= end key)"
            )
        return Layout(INSIGHTFACE, int(first), int(end))
    raise DatasetError(
        f"{where}: first record is neither an image (JPEG/PNG) nor an insightface header"
        f" (flag {header.flag}, {len(first_record) - start} payload bytes): unknown layout"
    )


def identity_range(header: irheader.IRHeader, layout: Layout, where: str) -> tuple[int, int]:
    """The ``[start, end)`` image keys an insightface identity record claims, checked."""
    labels = header.labels
    if header.flag != 2 or not all(v.is_integer() for v in labels):
        raise DatasetError(f"{where}: identity record needs 2 whole-number labels, has {labels}")
    start, end = int(labels[0]), int(labels[1])
    if not 1 <= start <= end <= layout.identity_start:
        raise DatasetError(
            f"{where}: identity record range [{start}, {end}) is outside the image keys [1, {layout.identity_start})"
        )
    return start, end
