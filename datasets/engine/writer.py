"""Writing RecordIO files byte-for-byte as MXNet's writer does (for tests and benchmarks).

Follows dmlc-core's ``RecordIOWriter::WriteRecord``: every aligned occurrence of the magic
word inside the data ends a part (cflag 1 for the first, 2 for the middle ones) and is
dropped; the rest is the last part (cflag 3), or the whole record (cflag 0) when nothing
was split. Only the final part is padded: the earlier ones end at aligned offsets.
"""

from __future__ import annotations

import os
import struct
from types import TracebackType

from datasets.engine import irheader
from datasets.engine.recordio import LENGTH_MASK, MAGIC, MAGIC_BYTES

_FRAME = struct.Struct("<II")


def frame_record(data: bytes) -> bytes:
    """The on-disk bytes of one record holding ``data``, split as dmlc splits it."""
    if len(data) > LENGTH_MASK:
        raise ValueError("RecordIO records hold less than 2**29 bytes")
    out = []
    start = 0
    pos = data.find(MAGIC_BYTES)
    while pos != -1:
        if pos % 4 == 0:
            out.append(_FRAME.pack(MAGIC, ((1 if start == 0 else 2) << 29) | (pos - start)))
            out.append(data[start:pos])
            start = pos + 4
            pos = data.find(MAGIC_BYTES, start)
        else:
            pos = data.find(MAGIC_BYTES, pos + 1)
    tail = len(data) - start
    out.append(_FRAME.pack(MAGIC, ((3 if start else 0) << 29) | tail))
    out.append(data[start:])
    out.append(b"\0" * (-tail % 4))
    return b"".join(out)


class IndexedRecordWriter:
    """Writes a ``.rec`` and its ``.idx`` (``key<TAB>offset`` per record), like MXIndexedRecordIO."""

    def __init__(self, rec_path: str | os.PathLike[str], idx_path: str | os.PathLike[str]) -> None:
        self._rec = open(rec_path, "wb")  # noqa: SIM115
        self._idx = open(idx_path, "w", encoding="ascii")  # noqa: SIM115
        self._offset = 0

    def write(self, key: int, data: bytes) -> None:
        framed = frame_record(data)
        self._idx.write(f"{key}\t{self._offset}\n")
        self._rec.write(framed)
        self._offset += len(framed)

    def write_packed(self, key: int, labels: float | list[float], payload: bytes, rid: int) -> None:
        """Write ``irheader.pack(labels, rid) + payload`` under ``key``."""
        self.write(key, irheader.pack(labels, rid) + payload)

    def close(self) -> None:
        self._rec.close()
        self._idx.close()

    def __enter__(self) -> IndexedRecordWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
