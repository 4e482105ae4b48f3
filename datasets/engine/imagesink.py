"""Writing extracted images and their manifest lines: where extraction spends its time.

Per file: one ``open``, one ``write`` and one ``close`` syscall on a plain string path (no
``Path`` objects, no buffered file objects) and each label directory made once. The
SHA-256 is taken on the same bytes. Files are written in batches on worker threads: the
syscalls and hashlib (on buffers over 2 KiB) release the GIL, so the kernel's file
creation overlaps with the parsing of the next records. Manifest lines still come out in
record order, and at most a few batches are in flight, so memory stays bounded.

The pool is a queue and a few threads rather than ``concurrent.futures``, whose import
(it pulls in ``logging``) costs more start-up time than a small extraction takes to run.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import deque
from queue import SimpleQueue
from typing import TextIO

from datasets.engine.errors import DatasetError

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | os.O_CLOEXEC
# Records per batch: big enough that handing a batch to a thread costs little per file.
BATCH = 128
DEFAULT_THREADS = 2

# (absolute path, payload, manifest line up to the opening quote of the sha256 value)
Item = tuple[str, "bytes | memoryview", str]


def write_file(path: str, data: bytes | memoryview) -> None:
    """Write ``data`` to a new file at ``path`` (never overwriting) with raw syscalls."""
    try:
        fd = os.open(path, _FLAGS, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as err:
        raise DatasetError(f"cannot write {path}: {err.strerror}") from None


def _write_batch(items: list[Item]) -> str:
    lines = []
    for path, data, head in items:
        write_file(path, data)
        lines.append(f'{head}{hashlib.sha256(data).hexdigest()}"}}\n')
    return "".join(lines)


class _Batch:
    __slots__ = ("items", "done", "lines", "error")

    def __init__(self, items: list[Item]) -> None:
        self.items = items
        self.done = threading.Event()
        self.lines = ""
        self.error: BaseException | None = None


class ImageSink:
    """Writes ``<root>/<label>/<key>.<ext>`` files and their lines of ``manifest``."""

    def __init__(self, root: str, manifest: TextIO, threads: int = DEFAULT_THREADS) -> None:
        self.root = root
        self._manifest = manifest
        self._labels: set[int] = set()
        self._batch: list[Item] = []
        self._pending: deque[_Batch] = deque()
        self._max_pending = 2 * threads
        self._queue: SimpleQueue[_Batch | None] = SimpleQueue()
        self._cancelled = False
        self._threads = [threading.Thread(target=self._work, name="image-writer", daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def path_for(self, label: int, key: int, ext: str) -> str:
        """The relative path of an image, creating its label directory on first use."""
        if label not in self._labels:
            try:
                os.mkdir(f"{self.root}/{label}")
            except OSError as err:
                raise DatasetError(f"cannot create {self.root}/{label}: {err.strerror}") from None
            self._labels.add(label)
        return f"{label}/{key}.{ext}"

    def add(self, relpath: str, data: bytes | memoryview, line_head: str) -> None:
        """Queue one image; its manifest line is ``line_head + sha256 + '"}'``."""
        self._batch.append((f"{self.root}/{relpath}", data, line_head))
        if len(self._batch) >= BATCH:
            self._submit()

    def finish(self) -> None:
        """Write what is queued and wait for it; raises the first write error."""
        if self._batch:
            self._submit()
        while self._pending:
            self._collect()
        self.close()

    def close(self) -> None:
        """Stop the writer threads; after an error, batches not yet started are dropped.

        Returns only once no thread can write any more, so the caller may delete the output.
        """
        self._cancelled = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _submit(self) -> None:
        batch, self._batch = _Batch(self._batch), []
        if not self._threads:
            self._manifest.write(_write_batch(batch.items))
            return
        self._pending.append(batch)
        self._queue.put(batch)
        while len(self._pending) > self._max_pending:
            self._collect()

    def _collect(self) -> None:
        batch = self._pending.popleft()
        batch.done.wait()
        if batch.error is not None:
            raise batch.error
        self._manifest.write(batch.lines)

    def _work(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                if not self._cancelled:
                    batch.lines = _write_batch(batch.items)
            except BaseException as err:  # handed to the main thread by _collect
                batch.error = err
            finally:
                batch.done.set()
