"""Training images by index: extracted folders or ``.rec`` + ``.idx``, labels 0..C-1, a held-out split.

Poisson sampling draws any subset of the training set at each step, so a source must read
image i directly: folders read the file, ``.rec`` files read the record at the offset the
``.idx`` gives. Labels are remapped to 0..C-1 (``LabelMap`` keeps the original labels).
Per identity, ``holdout_fraction`` of the images are set aside and never trained on: they
are the non-members of the membership-inference audit and give a held-out accuracy.
No TensorFlow here.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from datasets.engine import irheader, layout
from datasets.engine.errors import DatasetError
from datasets.engine.idxfile import read_index
from datasets.engine.recordio import LENGTH_MASK, MAGIC, RecordFile

MANIFEST = "manifest.jsonl"
_FRAME = struct.Struct("<II")
# Enough bytes for the frame and an IRHeader with a few labels: labels are read from this
# much of each record instead of the whole image.
_HEAD_BYTES = 8 + irheader.HEADER_SIZE + 4 * 8


class ImageSource(Protocol):
    """Encoded images and their original labels, by position 0..len-1."""

    raw_labels: np.ndarray

    def read(self, i: int) -> bytes: ...

    def name_of(self, i: int) -> str: ...

    def describe(self) -> dict: ...

    def close(self) -> None: ...


class FolderSource:
    """An extracted dataset: ``manifest.jsonl`` lines (``path``, ``labels``), or ``<label>/<file>`` dirs."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root} is not a directory (expected an extracted dataset folder)")
        manifest = self.root / MANIFEST
        paths, labels = self._from_manifest(manifest) if manifest.is_file() else self._from_dirs()
        if not paths:
            raise DatasetError(f"{self.root} holds no images")
        self.paths = paths
        self.raw_labels = np.asarray(labels, dtype=np.int64)

    def _from_manifest(self, manifest: Path) -> tuple[list[Path], list[int]]:
        paths, labels = [], []
        real_root = os.path.realpath(self.root)
        with open(manifest, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    relpath, label = entry["path"], entry["labels"][0]
                    if not float(label).is_integer() or label < 0:
                        raise ValueError
                except (ValueError, KeyError, IndexError, TypeError):
                    raise DatasetError(f"{manifest} line {n}: needs a 'path' and a whole-number 'labels'[0]") from None
                path = self.root / relpath
                # The manifest is user data: it may not point outside the dataset folder.
                if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
                    raise DatasetError(f"{manifest} line {n}: path {relpath!r} leaves the dataset folder")
                paths.append(path)
                labels.append(int(label))
        return paths, labels

    def _from_dirs(self) -> tuple[list[Path], list[int]]:
        dirs = sorted(d for d in self.root.iterdir() if d.is_dir())
        if not dirs:
            raise DatasetError(f"{self.root} has neither {MANIFEST} nor <label>/ image folders")
        if all(d.name.isdigit() for d in dirs):
            dirs.sort(key=lambda d: int(d.name))
            names = [int(d.name) for d in dirs]
        else:
            names = list(range(len(dirs)))  # folder names in sorted order become labels 0..C-1
        paths, labels = [], []
        for label, d in zip(names, dirs, strict=True):
            for path in sorted(d.iterdir()):
                if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                    paths.append(path)
                    labels.append(label)
        return paths, labels

    def read(self, i: int) -> bytes:
        try:
            return self.paths[i].read_bytes()
        except OSError as err:
            raise DatasetError(f"cannot read {self.paths[i]}: {err.strerror}") from None

    def name_of(self, i: int) -> str:
        return str(self.paths[i])

    def describe(self) -> dict:
        return {"format": "folder", "path": str(self.root)}

    def close(self) -> None:
        pass


class RecordSource:
    """Image records of an insightface or im2rec ``.rec``, read by the offsets of its ``.idx``."""

    def __init__(self, rec_path: str | os.PathLike[str], idx_path: str | os.PathLike[str]) -> None:
        self.rec_path, self.idx_path = os.fspath(rec_path), os.fspath(idx_path)
        self._rec = RecordFile(self.rec_path)
        # Label scans pread a few bytes per record on a descriptor of their own.
        self._fd = os.open(self.rec_path, os.O_RDONLY)
        try:
            found = layout.detect(self._rec.read_at(0), f"{self.rec_path} first record")
            index = read_index(self.idx_path, self._rec.size)
            entries = zip(index.keys, index.offsets, strict=True)
            pairs = sorted((key, offset) for key, offset in entries if found.kind(key) == "image")
            if not pairs:
                raise DatasetError(f"{self.idx_path} lists no image records of {self.rec_path}")
            self.keys = np.array([k for k, _ in pairs], dtype=np.int64)
            self.offsets = np.array([o for _, o in pairs], dtype=np.int64)
            self.raw_labels = np.array([self._label(int(o)) for o in self.offsets], dtype=np.int64)
        except BaseException:
            self.close()
            raise

    def _label(self, offset: int) -> int:
        """The record's class label from its first bytes; the whole record only if it is split."""
        where = f"{self.rec_path} record at byte {offset}"
        head = os.pread(self._fd, _HEAD_BYTES, offset)
        if len(head) >= 12:
            magic, lrecord = _FRAME.unpack_from(head)
            (flag,) = struct.unpack_from("<I", head, 8)
            need = irheader.HEADER_SIZE + 4 * flag
            if magic == MAGIC and lrecord >> 29 == 0 and need <= min(lrecord & LENGTH_MASK, len(head) - 8):
                return irheader.class_label(irheader.unpack(head[8 : 8 + need], where)[0], where)
        data = self._rec.read_at(offset, where)  # multi-part, many labels or corrupt: the full path
        return irheader.class_label(irheader.unpack(data, where)[0], where)

    def read(self, i: int) -> bytes:
        where = f"{self.rec_path} record key {self.keys[i]}"
        data = self._rec.read_at(int(self.offsets[i]), where)
        _, start = irheader.unpack(data, where)
        return data[start:]

    def name_of(self, i: int) -> str:
        return f"{self.rec_path} record key {self.keys[i]}"

    def describe(self) -> dict:
        return {"format": "recordio", "path": self.rec_path, "idx_file": self.idx_path}

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._rec.close()


@dataclass(frozen=True)
class LabelMap:
    """Original labels in order: class index c stands for ``classes[c]``."""

    classes: tuple[int, ...]

    @classmethod
    def fit(cls, raw_labels: np.ndarray) -> LabelMap:
        return cls(tuple(int(v) for v in np.unique(raw_labels)))

    def encode(self, raw_labels: np.ndarray) -> np.ndarray:
        classes = np.asarray(self.classes)
        encoded = np.searchsorted(classes, raw_labels)
        if np.any(encoded >= len(classes)) or np.any(classes[np.minimum(encoded, len(classes) - 1)] != raw_labels):
            raise ValueError("labels outside the label map (the dataset changed since the checkpoint?)")
        return encoded.astype(np.int32)

    def __len__(self) -> int:
        return len(self.classes)


def held_out_count(n: int, fraction: float) -> int:
    """How many of an identity's ``n`` images ``holdout_split`` sets aside."""
    if fraction > 0 and n >= 2:
        return min(max(1, round(fraction * n)), n - 1)
    return 0


def training_examples(per_identity: list[int], fraction: float) -> int:
    """Images that will be trained on: the N of the privacy accounting, before training."""
    return sum(n - held_out_count(n, fraction) for n in per_identity)


def holdout_split(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions to train on and to hold out: per identity, ``round(fraction * n)`` images held out.

    An identity with at least two images keeps at least one out (when ``fraction > 0``) and
    at least one in, so every held-out image has a trained-on identity.
    """
    train, held = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        k = held_out_count(len(members), fraction)
        held.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def open_source(dataset_path: str | None, rec_file: str | None, idx_file: str | None) -> ImageSource:
    if dataset_path:
        return FolderSource(dataset_path)
    assert rec_file and idx_file
    return RecordSource(rec_file, idx_file)
