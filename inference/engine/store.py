"""A gallery version on disk, every file encrypted at rest (atrest.py). Django-free.

One folder per version (the web tier's ``DATA_ROOT/galleries/<id>/<store>/``, the CLI's
``<var>/galleries-cli/<NAME>/data/``):

    templates.pfar          npz: ``embeddings`` (N, D) float32 unit rows; in mean mode
                            also ``sums`` (identities, D) float64, so photos added later
                            update an identity's mean exactly
    labels.pfar             JSON: per-row labels, identities, photos per identity, mode, embedder;
                            for a euclidean-rule embedder also ``score`` and ``sq_norms``
                            (each template's squared norm, what turns q . g into a score)
    thumbs/<token>.pfar     one aligned 112x112 JPEG per identity; token = keyed hash of the label
    calibration.pfar        npz: up to 10 sample photo embeddings per identity (``samples``,
                            ``sample_labels`` as JSON bytes), the background photos'
                            embeddings and the score samples of the open-set threshold
                            (calibration.py); optional (galleries made before it have none)

A search worker reads only ``templates.pfar`` (it never needs the labels); the labels
and thumbnails are read by the key holder's side.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.engine import atrest
from inference.engine.gallery import squared_norms

TEMPLATES = "templates.pfar"
LABELS = "labels.pfar"
CALIBRATION = "calibration.pfar"
THUMBS = "thumbs"
MODES = ("mean", "all")


@dataclass
class GalleryData:
    embeddings: np.ndarray  # (N, D) float32 unit rows: what the search scores
    labels: list[str]  # identity of each row
    mode: str  # "mean": one row per identity; "all": one row per photo
    embedder: dict  # the embedder's metadata (name, dim, private, source)
    photos: dict[str, int] = field(default_factory=dict)  # photos per identity, in enrollment order
    sums: np.ndarray | None = None  # mean mode: per-identity sums of unit photo embeddings

    @property
    def identities(self) -> list[str]:
        return list(self.photos)

    @property
    def score_rule(self) -> str:
        """How a probe scores against these templates (gallery.similarities)."""
        return self.embedder.get("score", "cosine")

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])


class GalleryStore:
    """Reads and writes one version folder. ``binding`` names the gallery and version
    in every file's associated data, so files cannot be swapped between them."""

    def __init__(self, folder: Path, key: bytes, binding: str):
        self.folder = Path(folder)
        self.key = key
        self.binding = binding

    def _context(self, name: str) -> str:
        return f"{self.binding}/{name}"

    def _thumb_path(self, label: str) -> Path:
        return self.folder / THUMBS / f"{atrest.label_token(self.key, label)}.pfar"

    def exists(self) -> bool:
        return (self.folder / TEMPLATES).is_file() and (self.folder / LABELS).is_file()

    def write(self, data: GalleryData, thumbs: dict[str, bytes]) -> None:
        if data.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if len(data.labels) != len(data):
            raise ValueError(f"{len(data)} templates for {len(data.labels)} labels")
        arrays = {"embeddings": np.ascontiguousarray(data.embeddings, dtype=np.float32)}
        if data.sums is not None:
            arrays["sums"] = np.ascontiguousarray(data.sums, dtype=np.float64)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atrest.write_file(self.folder / TEMPLATES, self.key, buf.getvalue(), self._context(TEMPLATES))
        meta = {"labels": list(data.labels), "photos": data.photos, "mode": data.mode,
                "embedder": data.embedder, "dim": data.dim}
        if data.score_rule != "cosine":  # the key holder turns q . g into scores with these
            meta["score"] = data.score_rule
            meta["sq_norms"] = [round(float(v), 7) for v in squared_norms(data.embeddings)]
        atrest.write_file(self.folder / LABELS, self.key, json.dumps(meta).encode(), self._context(LABELS))
        for label, jpeg in thumbs.items():
            atrest.write_file(self._thumb_path(label), self.key, jpeg, self._context(f"{THUMBS}/{label}"))

    def _arrays(self) -> dict[str, np.ndarray]:
        raw = atrest.read_file(self.folder / TEMPLATES, self.key, self._context(TEMPLATES))
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    def read_embeddings(self) -> np.ndarray:
        """(N, D) float32: all a search worker needs."""
        return self._arrays()["embeddings"]

    def read_labels(self) -> dict:
        raw = atrest.read_file(self.folder / LABELS, self.key, self._context(LABELS))
        return json.loads(raw)

    def read(self) -> GalleryData:
        arrays, meta = self._arrays(), self.read_labels()
        return GalleryData(arrays["embeddings"], meta["labels"], meta["mode"], meta["embedder"],
                           dict(meta["photos"]), arrays.get("sums"))

    def write_calibration(self, samples: np.ndarray, sample_labels: list[str], background: np.ndarray,
                          scores: dict[str, np.ndarray]) -> None:
        buf = io.BytesIO()
        np.savez(buf, samples=np.ascontiguousarray(samples, dtype=np.float32),
                 sample_labels=np.frombuffer(json.dumps(list(sample_labels)).encode(), dtype=np.uint8),
                 background=np.ascontiguousarray(background, dtype=np.float32),
                 **{f"scores_{k}": v for k, v in scores.items()})
        atrest.write_file(self.folder / CALIBRATION, self.key, buf.getvalue(), self._context(CALIBRATION))

    def read_calibration(self) -> dict | None:
        """``samples``, ``sample_labels``, ``background`` and ``scores`` (a dict), or None."""
        path = self.folder / CALIBRATION
        if not path.is_file():
            return None
        raw = atrest.read_file(path, self.key, self._context(CALIBRATION))
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return {"samples": arrays["samples"], "sample_labels": json.loads(arrays["sample_labels"].tobytes()),
                "background": arrays["background"],
                "scores": {k[len("scores_"):]: v for k, v in arrays.items() if k.startswith("scores_")}}

    def read_thumbnail(self, label: str) -> bytes | None:
        path = self._thumb_path(label)
        if not path.is_file():
            return None
        return atrest.read_file(path, self.key, self._context(f"{THUMBS}/{label}"))
