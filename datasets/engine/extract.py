"""Extracting a ``.rec`` into ``<label>/<key>.<ext>`` files plus a manifest and a summary.

The ``.rec`` is read front to back in one pass (no seeks), whether or not an ``.idx`` is
given: the index only supplies the keys (``idxfile.attach_keys``). Payload bytes are
written unchanged. Output goes to a staging directory renamed into place at the end
(``outdir``), so a failure or a cancellation leaves nothing half-written.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

from datasets.engine import irheader, layout
from datasets.engine.errors import DatasetError
from datasets.engine.idxfile import attach_keys, read_index
from datasets.engine.imagesink import DEFAULT_THREADS, ImageSink
from datasets.engine.imagetype import dimensions, extension
from datasets.engine.lstfile import LstEntry, check_entry, read_lst
from datasets.engine.outdir import MARKER, staging_dir
from datasets.engine.recordio import RecordFile

Progress = Callable[[int, int], None]
PathLike = str | os.PathLike[str]
MANIFEST = "manifest.jsonl"
# Progress is reported about this often (in bytes of .rec): often enough for a smooth bar
# and prompt cancellation, rare enough to cost nothing.
_PROGRESS_EVERY = 1 << 20


def extract_rec(
    rec_path: PathLike,
    output_dir: PathLike,
    *,
    idx_path: PathLike | None = None,
    lst_path: PathLike | None = None,
    progress: Progress | None = None,
    threads: int = DEFAULT_THREADS,
) -> dict[str, Any]:
    """Extract every image record; return the summary also written to ``summary.json``.

    ``progress(done, total)`` is called in bytes of the ``.rec``; an exception raised from
    it cancels the extraction and leaves the output as it was. ``threads`` file writers
    run beside the reader (0: write inline).
    """
    with staging_dir(output_dir) as staging:
        return extract_rec_into(
            staging, rec_path, idx_path=idx_path, lst_path=lst_path, progress=progress, threads=threads
        )


def extract_rec_into(
    root: str,
    rec_path: PathLike,
    *,
    idx_path: PathLike | None = None,
    lst_path: PathLike | None = None,
    progress: Progress | None = None,
    threads: int = DEFAULT_THREADS,
) -> dict[str, Any]:
    """Extract into an existing empty directory ``root`` (see ``extract_rec``)."""
    rec_path = os.fspath(rec_path)
    with RecordFile(rec_path) as rec:
        index = read_index(idx_path, rec.size) if idx_path is not None else None
        lst = _LstCheck(os.fspath(lst_path)) if lst_path is not None else None
        records = attach_keys(rec.scan(), index, rec_path, rec.size)
        found, records = _detect(records, rec_path)
        run = _Extraction(rec_path, found, lst)
        with open(os.path.join(root, MANIFEST), "w", encoding="utf-8", buffering=1 << 20) as manifest:
            sink = ImageSink(root, manifest, threads)
            try:
                next_report = _PROGRESS_EVERY
                for key, offset, data in records:
                    run.record(sink, key, offset, data)
                    if progress is not None and offset >= next_report:
                        progress(offset, rec.size)
                        next_report = offset + _PROGRESS_EVERY
                sink.finish()
            finally:
                sink.close()
        run.check_complete()
        summary = run.summary(indexed=index is not None)
    with open(os.path.join(root, MARKER), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    if progress is not None:
        progress(rec.size, rec.size)
    return summary


def _detect(
    records: Iterator[tuple[int, int, bytes]], rec_path: str
) -> tuple[layout.Layout, Iterator[tuple[int, int, bytes]]]:
    """Detect the layout from the first record; return the records still to process."""
    first = next(records)  # RecordFile refuses empty files, so there is one
    found = layout.detect(first[2], f"{rec_path} record key {first[0]}")
    if found.name == layout.IM2REC:
        return found, _prepend(first, records)
    if first[0] != 0:
        raise DatasetError(f"{rec_path}: the insightface header record has key {first[0]}, not 0")
    return found, records


def _prepend(first: tuple[int, int, bytes], rest: Iterator[tuple[int, int, bytes]]) -> Iterator[tuple[int, int, bytes]]:
    yield first
    yield from rest


class _LstCheck:
    """Walks a ``.lst`` alongside the image records, one line per image."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._entries: Iterator[LstEntry] = read_lst(path)[1]

    def check(self, key: int, header: irheader.IRHeader) -> None:
        check_entry(next(self._entries, None), self.path, key, header.id, header.labels)

    def check_exhausted(self) -> None:
        extra = next(self._entries, None)
        if extra is not None:
            raise DatasetError(
                f"{self.path} line {extra.line}: no image record left for this line:"
                " the .lst has more lines than the .rec has images"
            )


class _Extraction:
    """What one extraction has seen so far, and what to do with each record."""

    def __init__(self, rec_path: str, found: layout.Layout, lst: _LstCheck | None) -> None:
        self.rec_path, self.layout, self.lst = rec_path, found, lst
        self.counts: dict[int, int] = {}
        self.formats: dict[str, int] = {}
        self.identity_records = 0
        self.size: tuple[int, int] | None = None

    def record(self, sink: ImageSink, key: int, offset: int, data: bytes) -> None:
        where = f"{self.rec_path} record key {key} (byte {offset})"
        header, start = irheader.unpack(data, where)
        kind = self.layout.kind(key)
        if kind == "image":
            self._image(sink, key, header, memoryview(data)[start:], where)
        elif kind == "identity":
            layout.identity_range(header, self.layout, where)
            self.identity_records += 1
        else:
            found = self.layout
            raise DatasetError(
                f"{where}: key is outside the ranges of the insightface header (images"
                f" 1..{found.identity_start - 1}, identities {found.identity_start}..{found.identity_end - 1})"
            )

    def _image(self, sink: ImageSink, key: int, header: irheader.IRHeader, payload: memoryview, where: str) -> None:
        label = irheader.class_label(header, where)
        ext = extension(payload[:8])
        if ext is None:
            raise DatasetError(f"{where}: payload is neither JPEG nor PNG")
        if self.lst is not None:
            self.lst.check(key, header)
        relpath = sink.path_for(label, key, ext)
        sink.add(
            relpath,
            payload,
            f'{{"key": {key}, "labels": {_labels_json(header.labels, where)}, "id": {header.id},'
            f' "id2": {header.id2}, "path": "{relpath}", "sha256": "',
        )
        self.counts[label] = self.counts.get(label, 0) + 1
        self.formats[ext] = self.formats.get(ext, 0) + 1
        if self.size is None:
            self.size = dimensions(bytes(payload[:65536]), ext)

    def check_complete(self) -> None:
        """After the last record: the .lst and the identity records must be used up."""
        if self.lst is not None:
            self.lst.check_exhausted()
        if self.layout.name == layout.INSIGHTFACE:
            expected = self.layout.identity_end - self.layout.identity_start
            if self.identity_records != expected:
                raise DatasetError(
                    f"{self.rec_path}: the header announces {expected} identity records,"
                    f" the file holds {self.identity_records}"
                )

    def summary(self, indexed: bool) -> dict[str, Any]:
        counts = self.counts
        return {
            "rec_file": os.path.basename(self.rec_path),
            "layout": self.layout.name,
            "images": sum(counts.values()),
            "identities": len(counts),
            "identity_records": self.identity_records,
            "per_identity": {str(label): counts[label] for label in sorted(counts)},
            "image_formats": self.formats,
            "image_size": None if self.size is None else {"width": self.size[0], "height": self.size[1]},
            "indexed": indexed,
            "lst_checked": self.lst is not None,
        }


def _labels_json(labels: tuple[float, ...], where: str) -> str:
    # float repr is what json.dumps writes for finite floats; NaN/inf are not JSON.
    if len(labels) == 1:
        return f"[{labels[0]!r}]"
    if not all(math.isfinite(v) for v in labels):
        raise DatasetError(f"{where}: labels {list(labels)} include NaN or infinity")
    return "[" + ", ".join(map(repr, labels)) + "]"
