"""Reading MXNet/dmlc RecordIO record framing, without MXNet.

A record on disk: uint32 magic, uint32 lrecord (cflag in the top 3 bits, length in the
low 29), ``length`` data bytes, zero padding to a multiple of 4. dmlc's writer splits a
record wherever the magic word sits at an aligned offset inside its data (cflag 1 = first
part, 2 = middle, 3 = last) and drops that word, so the reader joins the parts with the
magic word put back. Only the framing lives here; ``irheader`` decodes the data.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from datasets.engine.errors import DatasetError

MAGIC = 0xCED7230A
MAGIC_BYTES = struct.pack("<I", MAGIC)
LENGTH_MASK = (1 << 29) - 1
_FRAME = struct.Struct("<II")
# Sequential scans read through a buffer this big: large enough that read syscalls are
# rare, small enough that memory stays flat whatever the file size.
_SCAN_BUFFER = 1 << 20


def _padded(length: int) -> int:
    return (length + 3) & ~3


class RecordFile:
    """One ``.rec`` file opened for sequential scans and random access by byte offset.

    Memory stays bounded: a scan holds one record (plus a read buffer) at a time.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._file: BinaryIO = open(self.path, "rb", buffering=_SCAN_BUFFER)  # noqa: SIM115
        except IsADirectoryError:
            raise DatasetError(f"{self.path} is a directory, not a .rec file") from None
        except OSError as err:
            raise DatasetError(f"cannot open {self.path}: {err.strerror}") from None
        self.size = os.fstat(self._file.fileno()).st_size
        if self.size == 0:
            self.close()
            raise DatasetError(f"{self.path} is empty (0 bytes): not a RecordIO file")
        first = os.pread(self._file.fileno(), 4, 0)
        if first != MAGIC_BYTES:
            self.close()
            raise DatasetError(
                f"{self.path} is not a RecordIO file: it does not start with the magic word 0x{MAGIC:08x}"
            )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _frame(self, offset: int, frame: bytes, first: bool) -> tuple[int, int]:
        """Check one part's 8-byte frame; return (cflag, length)."""
        if len(frame) < 8:
            raise DatasetError(f"{self.path}: truncated record at byte {offset}: file ends inside its 8-byte frame")
        magic, lrecord = _FRAME.unpack(frame)
        if magic != MAGIC:
            raise DatasetError(
                f"{self.path}: bad magic 0x{magic:08x} at byte {offset}"
                " (corrupt file, or an offset that is not a record start)"
            )
        cflag, length = lrecord >> 29, lrecord & LENGTH_MASK
        if cflag > 3:
            raise DatasetError(f"{self.path}: invalid cflag {cflag} at byte {offset}")
        if first and cflag not in (0, 1):
            raise DatasetError(
                f"{self.path}: byte {offset} is the middle of a multi-part record (cflag {cflag}), not a record start"
            )
        if not first and cflag not in (2, 3):
            raise DatasetError(
                f"{self.path}: multi-part record broken at byte {offset}:"
                f" expected a continuation part, found cflag {cflag}"
            )
        return cflag, length

    def scan(self) -> Iterator[tuple[int, bytes]]:
        """Yield ``(offset, data)`` for every record in file order, parts joined."""
        f = self._file
        f.seek(0)
        offset = 0
        read = f.read
        while True:
            frame = read(8)
            if not frame:
                return
            start = offset
            cflag, length = self._frame(offset, frame, True)
            parts = []
            while True:
                padded = _padded(length)
                data = read(padded)
                if len(data) != padded:
                    raise DatasetError(
                        f"{self.path}: truncated record at byte {start}: needs {padded} data"
                        f" bytes at byte {offset + 8}, file has {len(data)}"
                    )
                offset += 8 + padded
                if padded != length:
                    data = data[:length]
                if cflag in (0, 3):
                    break
                parts.append(data)
                frame = read(8)
                cflag, length = self._frame(offset, frame, False)
            if parts:
                parts.append(data)
                data = MAGIC_BYTES.join(parts)
            yield start, data

    def read_at(self, offset: int, where: str = "") -> bytes:
        """Read the whole record that starts at ``offset`` (random access, no seek state)."""
        label = f"{where}: " if where else ""
        if offset < 0 or offset >= self.size:
            raise DatasetError(f"{self.path}: {label}offset {offset} is past the end of the file ({self.size} bytes)")
        if offset % 4:
            raise DatasetError(f"{self.path}: {label}offset {offset} is not 4-byte aligned, so not a record start")
        fd = self._file.fileno()
        parts = []
        first = True
        pos = offset
        while True:
            cflag, length = self._frame(pos, os.pread(fd, 8, pos), first)
            padded = _padded(length)
            data = os.pread(fd, length, pos + 8)
            if len(data) != length or pos + 8 + padded > self.size:
                raise DatasetError(
                    f"{self.path}: {label}truncated record at byte {offset}: needs {padded} data"
                    f" bytes at byte {pos + 8}, file has {max(0, self.size - pos - 8)}"
                )
            pos += 8 + padded
            parts.append(data)
            first = False
            if cflag in (0, 3):
                break
        return parts[0] if len(parts) == 1 else MAGIC_BYTES.join(parts)
