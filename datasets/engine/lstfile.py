"""Reading ``.lst`` image lists in both conventions and checking them against records.

insightface: ``aligned<TAB>path<TAB>label[<TAB>bbox/landmarks...]``, one line per image in
key order. im2rec: ``index<TAB>label[<TAB>label...]<TAB>path``, index = record key = IRHeader
id. The convention is read off the first line (is the second column a number?) and every
later line must follow it.
"""

from __future__ import annotations

import itertools
import os
import re
import struct
from collections.abc import Iterator
from typing import NamedTuple

from datasets.engine.errors import DatasetError

INSIGHTFACE = "insightface"
IM2REC = "im2rec"
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class LstEntry(NamedTuple):
    line: int
    index: int | None  # im2rec only
    labels: tuple[float, ...]
    path: str


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _as_float32(value: float) -> float:
    # Header labels are float32: round the text's value the same way before comparing.
    return struct.unpack("<f", struct.pack("<f", value))[0]


def check_path(path: str, where: str) -> None:
    """Refuse paths that could leave the dataset directory: absolute ones and ``..``."""
    if not path:
        raise DatasetError(f"{where}: empty image path")
    parts = re.split(r"[\\/]", path)
    if path.startswith(("/", "\\")) or _WINDOWS_DRIVE.match(path) or ".." in parts:
        raise DatasetError(
            f"{where}: image path {path!r} is absolute or contains '..' (paths must stay inside the dataset directory)"
        )


def _parse(fields: list[str], convention: str, line: int, where: str) -> LstEntry:
    try:
        if convention == INSIGHTFACE:
            if len(fields) < 3:
                raise ValueError
            int(fields[0])
            label = float(int(fields[2]))
            return LstEntry(line, None, (label,), fields[1])
        if len(fields) < 3:
            raise ValueError
        labels = tuple(_as_float32(float(v)) for v in fields[1:-1])
        return LstEntry(line, int(fields[0]), labels, fields[-1])
    except ValueError:
        expected = "aligned<TAB>path<TAB>label" if convention == INSIGHTFACE else "index<TAB>label<TAB>path"
        raise DatasetError(
            f"{where}: expected {expected} ({convention} convention, as the first line),"
            f" got {chr(9).join(fields)[:80]!r}"
        ) from None


def read_lst(path: str | os.PathLike[str]) -> tuple[str, Iterator[LstEntry]]:
    """Return the detected convention and a lazy iterator over the checked entries."""
    path = os.fspath(path)
    try:
        f = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as err:
        raise DatasetError(f"cannot open {path}: {err.strerror}") from None
    lines = ((number, line.rstrip("\r\n").split("\t")) for number, line in enumerate(f, 1) if line.strip())
    first = next(lines, None)
    if first is None:
        f.close()
        raise DatasetError(f"{path} is empty: a .lst file needs one line per image")
    fields = [v.strip() for v in first[1]]
    convention = IM2REC if len(fields) >= 3 and _number(fields[1]) is not None else INSIGHTFACE

    def entries() -> Iterator[LstEntry]:
        with f:
            for number, raw in itertools.chain([first], lines):
                where = f"{path} line {number}"
                entry = _parse([v.strip() for v in raw], convention, number, where)
                check_path(entry.path, where)
                yield entry

    return convention, entries()


def check_entry(entry: LstEntry | None, lst_path: str, key: int, rid: int, labels: tuple[float, ...]) -> None:
    """Check that ``entry`` (the next .lst line) describes the image record just read."""
    if entry is None:
        raise DatasetError(f"{lst_path} ends before image record key {key}: the .lst has fewer lines than images")
    where = f"{lst_path} line {entry.line}"
    if entry.index is not None and entry.index != rid:
        raise DatasetError(
            f"{where}: index {entry.index} does not match the record in that position (key {key}, IRHeader id {rid})"
        )
    # im2rec writes every label column into the header; insightface only the class.
    got = labels if entry.index is not None else labels[:1]
    if got != entry.labels:
        raise DatasetError(
            f"{where}: label {_show(entry.labels)} does not match record key {key} label {_show(labels)}"
        )


def _show(labels: tuple[float, ...]) -> str:
    shown = [int(v) if v.is_integer() else v for v in labels]
    return str(shown[0]) if len(shown) == 1 else str(shown)
