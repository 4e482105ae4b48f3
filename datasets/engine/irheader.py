"""IRHeader: the label block MXNet's ``recordio.pack`` puts in front of each payload."""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

from datasets.engine.errors import DatasetError

# flag, label, id, id2. MXNet packs it with native 'IfQQ', which has no padding on
# little-endian 64-bit machines, so the explicit '<IfQQ' reads the same bytes anywhere.
_HEADER = struct.Struct("<IfQQ")
HEADER_SIZE = _HEADER.size
# A flag this large would mean gigabytes of labels: only a corrupt header says that.
_MAX_LABELS = 1 << 20


class IRHeader(NamedTuple):
    flag: int
    labels: tuple[float, ...]
    id: int
    id2: int


def unpack(record: bytes | memoryview, where: str) -> tuple[IRHeader, int]:
    """Return the header of a packed record and the offset where its payload starts.

    With flag > 0, ``flag`` float32 labels follow the struct and its own label field is
    unused (MXNet writes 0 there); with flag == 0 the single label is the struct's.
    ``where`` names the record in error messages.
    """
    if len(record) < HEADER_SIZE:
        raise DatasetError(f"{where}: record is {len(record)} bytes, shorter than the {HEADER_SIZE}-byte IRHeader")
    flag, label, rid, rid2 = _HEADER.unpack_from(record)
    if flag == 0:
        return IRHeader(0, (label,), rid, rid2), HEADER_SIZE
    if flag > _MAX_LABELS or HEADER_SIZE + 4 * flag > len(record):
        raise DatasetError(f"{where}: IRHeader says {flag} labels, more than the {len(record)}-byte record holds")
    labels = struct.unpack_from(f"<{flag}f", record, HEADER_SIZE)
    return IRHeader(flag, labels, rid, rid2), HEADER_SIZE + 4 * flag


def pack(labels: float | tuple[float, ...] | list[float], rid: int, rid2: int = 0) -> bytes:
    """Pack an IRHeader the way ``mx.recordio.pack`` does: a scalar label gives flag 0."""
    if isinstance(labels, (int, float)):
        return _HEADER.pack(0, float(labels), rid, rid2)
    values = tuple(float(v) for v in labels)
    return _HEADER.pack(len(values), 0.0, rid, rid2) + struct.pack(f"<{len(values)}f", *values)


def class_label(header: IRHeader, where: str) -> int:
    """The first label as a class index; negative, NaN or fractional labels are refused."""
    value = header.labels[0] if header.labels else math.nan
    if not math.isfinite(value) or value < 0 or not value.is_integer():
        raise DatasetError(f"{where}: label {value!r} is not a class index (needs a whole number >= 0)")
    return int(value)
