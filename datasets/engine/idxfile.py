"""Reading ``.idx`` files: one ``key<TAB>byte offset`` line per record of a ``.rec``."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator
from typing import NamedTuple

from datasets.engine.errors import DatasetError

# Bytes of lines parsed at a time: bounded memory, few Python-level iterations.
_CHUNK = 4 << 20


class RecordIndex(NamedTuple):
    """Index entries sorted by offset; ``lines`` keeps each entry's 1-based line number.

    Arrays of int64 rather than dicts: a 6-million-record index then takes ~150 MB less.
    """

    path: str
    keys: array
    offsets: array
    lines: array

    def __len__(self) -> int:
        return len(self.keys)

    def where(self, i: int) -> str:
        return f"{self.path} line {self.lines[i]}"


def _parse_lines(path: str, chunk: list[bytes], number: int) -> tuple[array, array, array]:
    """Parse lines one by one, skipping blank ones; raise naming the first malformed one."""
    keys, offsets, lines = array("q"), array("q"), array("q")
    for n, line in enumerate(chunk, number + 1):
        fields = line.split()
        if not fields:
            continue
        lines.append(n)
        try:
            if len(fields) != 2:
                raise ValueError
            keys.append(int(fields[0]))
            offsets.append(int(fields[1]))
        except (ValueError, OverflowError):
            shown = line.strip()[:60].decode("ascii", "replace")
            raise DatasetError(f"{path} line {n}: expected 'key<TAB>offset', got {shown!r}") from None
    return keys, offsets, lines


def _is_ascending(values: array) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


def read_index(path: str | os.PathLike[str], rec_size: int) -> RecordIndex:
    """Parse and check an index against a ``.rec`` of ``rec_size`` bytes.

    Refuses malformed lines, negative offsets, offsets past the end of the ``.rec`` and
    duplicate keys or offsets, each naming the line. Whether each offset really is a record
    start is checked by whoever reads there.
    """
    path = os.fspath(path)
    keys, offsets, lines = array("q"), array("q"), array("q")
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError as err:
        raise DatasetError(f"cannot open {path}: {err.strerror}") from None
    with f:
        number = 0
        while chunk := f.readlines(_CHUNK):
            # Fast path: split a few MB of lines at once and convert with C loops; any
            # irregular line sends that chunk through the line-by-line parser, which
            # then names the line.
            tokens = b"".join(chunk).split()
            try:
                if len(tokens) != 2 * len(chunk):
                    raise ValueError
                chunk_keys = array("q", map(int, tokens[0::2]))
                chunk_offsets = array("q", map(int, tokens[1::2]))
                chunk_lines = array("q", range(number + 1, number + 1 + len(chunk)))
            except (ValueError, OverflowError):
                chunk_keys, chunk_offsets, chunk_lines = _parse_lines(path, chunk, number)
            if chunk_keys and min(chunk_keys) < 0:
                bad = next(i for i, k in enumerate(chunk_keys) if k < 0)
                raise DatasetError(f"{path} line {chunk_lines[bad]}: negative key {chunk_keys[bad]}")
            if chunk_offsets and (min(chunk_offsets) < 0 or max(chunk_offsets) >= rec_size):
                bad = next(i for i, o in enumerate(chunk_offsets) if not 0 <= o < rec_size)
                raise DatasetError(
                    f"{path} line {chunk_lines[bad]}: offset {chunk_offsets[bad]} is past the end"
                    f" of the .rec ({rec_size} bytes): wrong or stale .idx file"
                )
            keys.extend(chunk_keys)
            offsets.extend(chunk_offsets)
            lines.extend(chunk_lines)
            number += len(chunk)
    if not keys:
        raise DatasetError(f"{path} is empty: an .idx file needs one line per record")
    if not _is_ascending(offsets):
        # MXNet writes offsets in ascending order; anything else gets sorted (and pays for
        # a transient list) so the reader can still walk the .rec front to back.
        order = sorted(range(len(offsets)), key=offsets.__getitem__)
        keys = array("q", (keys[i] for i in order))
        offsets = array("q", (offsets[i] for i in order))
        lines = array("q", (lines[i] for i in order))
        for i in range(1, len(offsets)):
            if offsets[i] == offsets[i - 1]:
                raise DatasetError(f"{path} line {lines[i]}: offset {offsets[i]} repeats line {lines[i - 1]}")
    if not _is_ascending(keys):
        by_key = sorted(range(len(keys)), key=keys.__getitem__)
        for a, b in zip(by_key, by_key[1:], strict=False):
            if keys[a] == keys[b]:
                first, second = sorted((lines[a], lines[b]))
                raise DatasetError(f"{path} line {second}: key {keys[b]} repeats line {first}")
    return RecordIndex(path, keys, offsets, lines)


def attach_keys(
    records: Iterator[tuple[int, bytes]], index: RecordIndex | None, rec_path: str, rec_size: int
) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(key, offset, data)`` for scanned ``(offset, data)``, checking the index.

    Without an index a record's key is its position in the file (what both MXNet writers
    produce). With one, its offsets must be exactly the record starts the scan finds.
    """
    if index is None:
        for key, (offset, data) in enumerate(records):
            yield key, offset, data
        return
    keys, offsets = index.keys, index.offsets
    count = len(offsets)
    i = 0
    for offset, data in records:
        if i < count and offsets[i] == offset:
            yield keys[i], offset, data
            i += 1
            continue
        if i == count:
            raise _no_entry(index, offset, rec_path)
        if offsets[i] > offset:
            # Either this record is missing from the index, or the index entry meant for
            # it points somewhere inside it: tell which by where the record ends.
            following = next(records, None)
            end = rec_size if following is None else following[0]
            if offsets[i] >= end:
                raise _no_entry(index, offset, rec_path)
        raise _inside_record(index, i, rec_path)
    if i < count:
        raise _inside_record(index, i, rec_path)


def _no_entry(index: RecordIndex, offset: int, rec_path: str) -> DatasetError:
    return DatasetError(f"{rec_path}: record at byte {offset} has no entry in {index.path}: wrong or stale .idx file")


def _inside_record(index: RecordIndex, i: int, rec_path: str) -> DatasetError:
    return DatasetError(
        f"{index.where(i)}: offset {index.offsets[i]} points inside a record of {rec_path},"
        " not at its start: wrong or stale .idx file"
    )
