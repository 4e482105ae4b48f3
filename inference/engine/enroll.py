"""Photos -> gallery templates (mean per identity, or one per photo). Django-free.

Shared by the `gallery_enroll` job (web) and `run.py enroll` (CLI). Photos come
grouped by identity: an identity's photos are aligned and embedded together, so its
thumbnail can be the photo closest to the identity's mean without keeping every
crop of the gallery in memory. A photo without a face (or unreadable) is skipped and
reported, never fatal.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from inference.engine.calibration import (
    DEFAULT_FPIR,
    MAX_SAMPLES_PER_IDENTITY,
    Calibration,
    Scores,
    gallery_scores,
    pick_threshold,
)
from inference.engine.gallery import l2_normalise
from inference.engine.store import MODES, GalleryData
from privface_core.errors import UserError

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
LABEL_MAX = 100
_BAD_LABEL = re.compile(r"[/\\\x00-\x1f\x7f]")

Photo = tuple[str, Callable[[], bytes]]  # (name shown in messages, loader of the bytes)
Identity = tuple[str, Iterable[Photo]]


@dataclass(frozen=True)
class Skip:
    name: str
    reason: str


def check_label(label: str, where: str = "label") -> str:
    """Identity labels become URL path segments and file-name hashes: keep them plain."""
    if not isinstance(label, str) or not label or label != label.strip():
        raise UserError(f"{where}: a label must be non-empty without surrounding spaces, got {label!r}")
    if len(label) > LABEL_MAX or _BAD_LABEL.search(label) or label in (".", ".."):
        raise UserError(f"{where}: label {label[:LABEL_MAX]!r} must be at most {LABEL_MAX} characters "
                        "without slashes or control characters")
    return label


def jpeg_of(crop: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class Enrollment:
    """Accumulates identities into a gallery, optionally on top of an existing one.

    ``on_photo(done)`` is called after every photo (progress), ``on_skip(skip)`` for each
    photo left out; ``faces`` picks the face pipeline ("dlib" or "portable"). ``result()``
    returns the gallery and the thumbnails it made (only for identities the base gallery did
    not have: theirs are kept).
    """

    def __init__(self, embedder, mode: str, base: GalleryData | None = None, *, batch_size: int = 16,
                 on_photo: Callable[[int], None] | None = None, on_skip: Callable[[Skip], None] | None = None,
                 aligned: bool = False, base_calibration: dict | None = None, faces: str = "dlib"):
        if mode not in MODES:
            raise UserError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if base is not None and (base.mode != mode or base.embedder.get("name") != embedder.name):
            raise UserError(f"cannot add {mode} templates from {embedder.name} to a {base.mode} gallery "
                            f"of {base.embedder.get('name')}")
        self.embedder, self.mode, self.batch_size = embedder, mode, batch_size
        self.on_photo, self.on_skip, self.aligned = on_photo, on_skip, aligned
        self.faces = faces  # the face pipeline (faces.PIPELINES): every photo and probe of a gallery share it
        # Calibration samples: up to MAX_SAMPLES_PER_IDENTITY unit embeddings per identity,
        # and the background photos (people not enrolled), kept from the base version.
        self._samples: dict[str, list[np.ndarray]] = {}
        self._background: list[np.ndarray] = []
        if base_calibration is not None:
            for label, row in zip(base_calibration["sample_labels"], base_calibration["samples"], strict=True):
                self._samples.setdefault(label, []).append(np.asarray(row, np.float32))
            self._background = [np.asarray(r, np.float32) for r in base_calibration["background"]]
        self.done = self.enrolled = 0
        self.skipped: list[Skip] = []
        self.photos: dict[str, int] = dict(base.photos) if base else {}
        self.thumbs: dict[str, bytes] = {}
        self._known = set(self.photos)
        if mode == "mean":
            sums = base.sums if base is not None else None
            self._sums = {label: np.array(sums[i], dtype=np.float64) for i, label in enumerate(self.photos)} \
                if sums is not None else {}
        else:
            self._rows = [base.embeddings] if base is not None else []
            self._row_labels = list(base.labels) if base is not None else []

    def _skip(self, name: str, reason: str) -> None:
        skip = Skip(name, reason)
        self.skipped.append(skip)
        if self.on_skip:
            self.on_skip(skip)

    def _tick(self) -> None:
        self.done += 1
        if self.on_photo:
            self.on_photo(self.done)

    def _aligned(self, photos: Iterable[Photo]) -> Iterator[list]:
        """Batches of aligned faces; unreadable or faceless photos are skipped on the way."""
        from inference.engine.faces import align_face_bytes

        batch = []
        for name, load in photos:
            try:
                batch.append(align_face_bytes(load(), aligned=self.aligned, faces=self.faces))
            except UserError as exc:
                self._skip(name, str(exc))
            except OSError as exc:
                self._skip(name, f"cannot read: {exc.strerror or exc}")
            self._tick()
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def add_identity(self, label: str, photos: Iterable[Photo]) -> int:
        """Align, embed and add one identity's photos; returns how many were enrolled."""
        embeddings, crops = [], []
        for faces in self._aligned(photos):
            embeddings.append(self.embedder.embed_batch(faces))
            crops.extend(face.crop for face in faces)
        if not crops:
            return 0
        emb = np.concatenate(embeddings).astype(np.float64)
        kept = self._samples.setdefault(label, [])
        kept.extend(emb[: max(0, MAX_SAMPLES_PER_IDENTITY - len(kept))].astype(np.float32))
        if self.mode == "mean":
            self._sums[label] = self._sums.get(label, 0) + emb.sum(axis=0)
        else:
            self._rows.append(emb.astype(np.float32))
            self._row_labels.extend([label] * len(emb))
        self.photos[label] = self.photos.get(label, 0) + len(emb)
        if label not in self._known and label not in self.thumbs:
            # The representative photo: the one closest to the identity's mean.
            centre = l2_normalise(emb.sum(axis=0))
            self.thumbs[label] = jpeg_of(crops[int(np.argmax(emb @ centre))])
        self.enrolled += len(emb)
        return len(emb)

    def add_all(self, identities: Iterable[Identity]) -> None:
        for label, photos in identities:
            self.add_identity(label, photos)

    def add_background(self, photos: Iterable[Photo]) -> int:
        """Photos of people who are not enrolled: they only calibrate the threshold."""
        before = len(self._background)
        for faces in self._aligned(photos):
            self._background.extend(self.embedder.embed_batch(faces))
        return len(self._background) - before

    def calibration_samples(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(sample embeddings, their labels, background embeddings), float32."""
        labels = [label for label, rows in self._samples.items() for _ in rows]
        rows = [row for rows in self._samples.values() for row in rows]
        dim = self.embedder.dim
        samples = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
        background = np.stack(self._background).astype(np.float32) if self._background \
            else np.zeros((0, dim), np.float32)
        return samples, labels, background

    def calibrate(self, data: GalleryData, fpir_target: float = DEFAULT_FPIR,
                  default: float | None = None) -> tuple[Calibration, Scores]:
        """The gallery's open-set threshold from its samples (see calibration.py)."""
        samples, labels, background = self.calibration_samples()
        scores = gallery_scores(samples, labels, data.embeddings, data.labels, data.mode, sums=data.sums,
                                identities=data.identities, background=background,
                                rule=self.embedder.score_rule, counts=data.photos)
        return pick_threshold(scores, fpir_target, default), scores

    def result(self) -> tuple[GalleryData, dict[str, bytes]]:
        meta = self.embedder.metadata
        if not self.photos:
            raise UserError(f"no face found in any of the {self.done} photos: nothing to enroll")
        if self.mode == "mean":
            labels = list(self.photos)
            sums = np.stack([self._sums[label] for label in labels])
            counts = np.array([self.photos[label] for label in labels], np.float64)
            data = GalleryData(mean_templates(sums, counts, self.embedder.score_rule).astype(np.float32), labels,
                               "mean", meta, dict(self.photos), sums)
        else:
            data = GalleryData(np.concatenate(self._rows).astype(np.float32), list(self._row_labels), "all", meta,
                               dict(self.photos))
        return data, dict(self.thumbs)


def mean_templates(sums: np.ndarray, counts: np.ndarray, rule: str = "cosine") -> np.ndarray:
    """An identity's template from the sum of its photos' vectors: the renormalised mean
    (cosine rule) or the plain mean (euclidean rule, dlib's)."""
    if rule == "euclidean":
        return np.asarray(sums, np.float64) / np.asarray(counts, np.float64)[:, None]
    return l2_normalise(sums)


def _natural(name: str) -> tuple:
    stem = os.path.splitext(name)[0]
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def _read(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def folder_identities(root: Path) -> tuple[int, Iterator[Identity]]:
    """An extracted dataset, ``<root>/<label>/<key>.jpg``: (photo count, identities).

    Folders without photos directly inside (an extraction's ``eval/``) are not identities.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: not a folder")
    listing = []
    with os.scandir(root) as entries:
        folders = sorted((e.name for e in entries if e.is_dir() and not e.name.startswith(".")), key=_natural)
    for name in folders:
        with os.scandir(root / name) as entries:
            files = sorted((e.name for e in entries if e.is_file() and os.path.splitext(e.name)[1].lower()
                            in PHOTO_SUFFIXES), key=_natural)
        if files:
            listing.append((check_label(name, f"{root / name}"), files))
    if not listing:
        raise UserError(f"{root}: no photos found (expected <label>/<image>.jpg folders)")

    def identities() -> Iterator[Identity]:
        for label, files in listing:
            yield label, ((f"{label}/{f}", partial(_read, root / label / f)) for f in files)

    return sum(len(files) for _, files in listing), identities()


def labelled_identities(rows: Iterable[tuple[str, str, Path]]) -> list[Identity]:
    """(label, name, path) rows -> identities in order of first appearance."""
    groups: dict[str, list[Photo]] = {}
    for label, name, path in rows:
        groups.setdefault(label, []).append((name, partial(_read, path)))
    return list(groups.items())


@dataclass(frozen=True)
class LabelRow:
    line: int  # in the CSV, for messages
    file: str  # as written (the CLI: relative to --images_dir; the web: an uploaded file's name)
    label: str  # checked by check_label


def parse_labels_csv(data: bytes) -> list[LabelRow]:
    """The rows of a ``file,identity`` CSV (the fixtures' labels.csv format), the one reader of
    labelled photos for the CLI and the web. ``UserError`` names the line of a bad row."""
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        if not reader.fieldnames or not {"file", "identity"} <= set(reader.fieldnames):
            raise UserError("the first line must be the header file,identity")
        rows = []
        for row in reader:
            name, label = (row.get("file") or "").strip(), (row.get("identity") or "").strip()
            if not name:
                raise UserError(f"line {reader.line_num}: empty file name")
            rows.append(LabelRow(reader.line_num, name, check_label(label, f"line {reader.line_num}")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"not a readable CSV: {exc}") from None
    if not rows:
        raise UserError("no photos listed")
    return rows


def csv_identities(images_dir: Path, labels_csv: Path) -> tuple[int, list[Identity]]:
    """Photos under ``images_dir`` listed in a ``file,identity`` CSV."""
    images_dir, labels_csv = Path(images_dir), Path(labels_csv)
    if not images_dir.is_dir():
        raise UserError(f"{images_dir}: not a folder")
    try:
        rows = parse_labels_csv(labels_csv.read_bytes())
    except OSError as exc:
        raise UserError(f"{labels_csv}: cannot read: {exc}") from None
    except UserError as exc:
        raise UserError(f"{labels_csv}: {exc}") from None
    base = images_dir.resolve()
    photos = []
    for row in rows:
        path = (images_dir / row.file).resolve()
        if base not in path.parents:
            raise UserError(f"{labels_csv} line {row.line}: {row.file} is outside {images_dir}")
        if not path.is_file():
            raise UserError(f"{labels_csv} line {row.line}: {row.file} not found in {images_dir}")
        photos.append((row.label, row.file, path))
    return len(photos), labelled_identities(photos)


def recordio_identities(rec_file: Path, idx_file: Path | None) -> tuple[int | None, Iterator[Identity]]:
    """A RecordIO dataset read in place; consecutive records of one label form an identity."""
    from datasets.engine.stream import TrainingStream

    stream = TrainingStream(rec_file, idx_file)
    total = len(stream) if idx_file is not None else None

    def identities() -> Iterator[Identity]:
        counter = itertools.count()
        for label, records in itertools.groupby(stream, key=lambda record: record[1]):
            yield str(label), ((f"{label}/record {next(counter)}", partial(lambda data: data, data))
                               for data, _ in records)

    return total, identities()
