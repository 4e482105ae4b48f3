"""Embedders: an aligned face -> an L2-normalised float32 template for the gallery.

Every embedder takes an ``AlignedFace`` (or the raw input array it was trained on)
and picks the input it needs: dlib's ResNet uses dlib's own 150x150 chip, an
ArcFace-style backbone uses the 112x112 crop. Templates come out unit-length, so
scores are cosine similarities, as gallery.py and the encrypted search expect.
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.engine.gallery import l2_normalise
from privface_core.errors import UserError

if TYPE_CHECKING:
    from inference.engine.faces import AlignedFace


class Embedder(ABC):
    """Interface every embedder implements.

    ``input_size`` is 150 for dlib's chip and 112 for the ArcFace crop.
    ``private`` says whether the model was trained with a privacy guarantee
    (DP-SGD on this platform); a public pretrained model is ``False``.
    ``default_threshold`` is the cosine score at or above which a search result
    counts as a match (open-set "no match" below it).
    """

    name: str
    input_size: int
    private: bool
    source: str
    default_threshold: float | None = None
    # "cosine": templates are unit rows, a score is q . g. "euclidean": templates are the
    # model's raw vectors times ``scale`` and a score is 1 - |q - g|^2 / 2 (the same as
    # cosine on unit rows): see gallery.similarities and faces.md.
    score_rule: str = "cosine"

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def _forward(self, batch: list[np.ndarray]) -> np.ndarray:
        """Raw (N, dim) embeddings for uint8 RGB inputs of input_size x input_size."""

    @property
    def metadata(self) -> dict[str, Any]:
        meta = {"name": self.name, "dim": self.dim, "private": self.private, "source": self.source}
        if self.score_rule != "cosine":
            meta["score"] = self.score_rule
        return meta

    def input_of(self, face: AlignedFace | np.ndarray) -> np.ndarray:
        """The array this model reads: the chip or the crop of a face, or an array passed as is."""
        if isinstance(face, np.ndarray):
            arr = face
        else:
            arr = face.dlib_chip if self.input_size == face.dlib_chip.shape[0] else face.crop
        if arr.shape != (self.input_size, self.input_size, 3) or arr.dtype != np.uint8:
            size = self.input_size
            raise ValueError(f"{self.name} needs a {size}x{size} uint8 RGB input, got {arr.shape} {arr.dtype}")
        return np.ascontiguousarray(arr)

    def embed_batch(self, faces: Sequence[AlignedFace | np.ndarray]) -> np.ndarray:
        """(N, dim) float32: unit rows (cosine rule), or scaled raw vectors (euclidean rule)."""
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self._forward([self.input_of(f) for f in faces])
        return self._vectors(raw).astype(np.float32)

    def _vectors(self, raw: np.ndarray) -> np.ndarray:
        return l2_normalise(raw)

    def embed(self, face: AlignedFace | np.ndarray) -> np.ndarray:
        """(dim,) float32: unit length (cosine rule) or the scaled raw vector (euclidean rule)."""
        return self.embed_batch([face])[0]


@functools.cache
def _dlib_resnet():
    import dlib
    import face_recognition_models

    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


class DlibResNetEmbedder(Embedder):
    """dlib's ResNet (face_recognition_model_v1), 128-d, the reference embedder.

    Public pretrained weights, so ``private=False``. dlib's own rule is "same person
    when L2 < 0.6" on its raw vectors, whose norms are ~1.4-1.6; at norm 1.5 that is
    cosine 1 - 0.36 / 4.5 = 0.92 after normalising. 0.92 also sits in the middle of
    the gap between same-person and different-person scores on the fixture photos
    (shared/fixtures/faces); see docs/faces.md.
    """

    name = "dlib-resnet-v1"
    input_size = 150
    private = False
    source = "face-recognition-models 0.3.0"
    default_threshold = 0.92

    @property
    def dim(self) -> int:
        return 128

    def _forward(self, batch: list[np.ndarray]) -> np.ndarray:
        return np.array(_dlib_resnet().compute_face_descriptor(batch), dtype=np.float64)


CARD_FILE = "model_card.json"


def file_digest(path: str | Path) -> str:
    """sha256 of a model file (hex): what a gallery records, so a search never mixes embedders."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def card_privacy(card: dict | None) -> dict[str, Any]:
    """ε, δ and DP unit from a model card (``private`` False when trained without DP)."""
    dp = (card or {}).get("dp") or {}
    if not dp.get("enabled"):
        return {"private": False, "epsilon": None, "delta": None, "unit": None, "accountant": None}
    return {"private": True, "epsilon": dp.get("epsilon"), "delta": dp.get("delta"), "unit": dp.get("unit"),
            "accountant": dp.get("accountant")}


def card_threshold(card: dict | None) -> float | None:
    """The cosine threshold a model starts from before a gallery calibrates it: its
    verification run's squared-L2 threshold at its FAR target (else its best-accuracy
    threshold), as cosine = 1 - d / 2 on unit vectors."""
    verification = (card or {}).get("verification") or {}
    distance = verification.get("far_threshold")
    if distance is None:
        distance = verification.get("threshold")
    if distance is None:
        return None
    return round(max(-1.0, min(1.0, 1.0 - float(distance) / 2.0)), 4)


def read_card(model_path: str | Path) -> dict | None:
    """The model card exported next to a backbone (None when there is none or it is unreadable)."""
    path = Path(model_path).with_name(CARD_FILE)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class ModelChanged(UserError):
    """The model file is not the one a gallery was enrolled with (HTTP 409)."""

    http_status = 409


class DlibResNetL2Embedder(DlibResNetEmbedder):
    """dlib's ResNet scored by dlib's own rule, Euclidean distance on its raw descriptors.

    On the fixture photos it separates strangers from enrolled people with ~1.6x the
    margin of cosine on normalised vectors (faces.md, bench/open_set.py): the raw norm
    carries information. Vectors are the raw descriptors times SCALE = 1 / 1.5 (their
    typical norm), and a score is 1 - |q - g|^2 / 2, so dlib's "same person when L2 < 0.6"
    is a score of 1 - (0.6 / 1.5)^2 / 2 = 0.92, the same number as before. Under CKKS the
    workers still compute q . g; the key holder adds 1 - |q|^2 / 2 - |g|^2 / 2, with the
    gallery's squared template norms kept beside its labels.
    """

    name = "dlib-resnet-v1-l2"
    score_rule = "euclidean"
    SCALE = 1 / 1.5

    def _vectors(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw, np.float64) * self.SCALE


ONNX_FILE = "backbone.onnx"


def onnx_beside(path: str | Path, keras_digest: str, card: dict | None) -> Path | None:
    """The ONNX export beside a Keras backbone (``training.engine.onnx_export``), when its
    model card vouches for both files: the ONNX file's sha256 and the Keras file's it was
    made from. Anything else (no entry, another Keras file, a changed ONNX file) is None,
    and the Keras model embeds instead."""
    entry = (card or {}).get("onnx") or {}
    onnx_path = Path(path).with_name(ONNX_FILE)
    if not entry.get("sha256") or entry.get("keras_sha256") != keras_digest or not onnx_path.is_file():
        return None
    return onnx_path if file_digest(onnx_path) == entry["sha256"] else None


class KerasEmbedder(Embedder):
    """A trained Keras backbone on the 112x112 ArcFace crop, normalised (x - 127.5) / 128.

    The model loads on first use, through the one loader of exported backbones
    (``training.engine.export.load_backbone``, which registers the custom layers), so
    constructing one is cheap (and Keras-free). ``from_file`` names it by its file's
    digest and reads privacy and default threshold from the model card beside it.

    With ``onnx_path`` (``from_file`` finds a registered model's ``backbone.onnx``) the same
    model runs in onnxruntime instead, the runtime the browser runs it in (onnxruntime-web):
    same name and digest (the Keras file's), templates equal to the Keras ones within float
    rounding (tests/training/test_onnx_export.py), and no TensorFlow in the process.
    """

    input_size = 112
    source = "keras"

    def __init__(self, path: str, name: str | None = None, private: bool = True, threshold: float | None = None,
                 *, digest: str | None = None, privacy: dict | None = None, dim: int | None = None,
                 onnx_path: str | None = None):
        self.path = path
        self.onnx_path = onnx_path
        self._session = None
        self.name = name or f"keras:{path}"
        self.private = private
        self.default_threshold = threshold
        self.digest = digest
        self.privacy = privacy
        self._dim = dim
        self._model = None

    @classmethod
    def from_file(cls, path: str | Path, digest: str | None = None) -> KerasEmbedder:
        """An embedder for an exported backbone; ``digest`` (when given) must match the file."""
        path = Path(path)
        if not path.is_file():
            raise ModelChanged(f"model file {path.name} is missing")
        actual = file_digest(path)
        if digest is not None and actual != digest:
            raise ModelChanged(f"model file {path.name} changed (sha256 {actual[:12]}, expected {digest[:12]})")
        card = read_card(path)
        privacy = card_privacy(card)
        size = ((card or {}).get("model") or {}).get("embedding_size")
        onnx_path = onnx_beside(path, actual, card)
        return cls(str(path), name=f"keras:{actual[:16]}", private=privacy["private"],
                   threshold=card_threshold(card), digest=actual, privacy=privacy,
                   dim=int(size) if size else None, onnx_path=str(onnx_path) if onnx_path else None)

    @property
    def runtime(self) -> str:
        return "onnxruntime" if self.onnx_path else "keras"

    @property
    def model(self):
        if self._model is None:
            from training.engine.export import BackboneError, load_backbone

            try:
                self._model = load_backbone(self.path)
            except BackboneError as exc:
                raise UserError(str(exc)) from None
            shape = self._model.input_shape
            if tuple(shape[1:]) != (self.input_size, self.input_size, 3):
                self._model = None
                raise UserError(f"{self.path}: the model reads {tuple(shape[1:])} inputs; an embedder needs "
                                f"({self.input_size}, {self.input_size}, 3)")
        return self._model

    @property
    def session(self):
        """The onnxruntime session of ``onnx_path``, made on first use."""
        if self._session is None:
            from training.engine.onnx_export import onnx_session

            try:
                session = onnx_session(self.onnx_path)
            except Exception as exc:  # noqa: BLE001 - onnxruntime's errors are many-line
                detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
                raise UserError(f"{self.onnx_path}: not a loadable ONNX backbone ({detail})") from None
            shape = tuple(session.get_inputs()[0].shape[1:])
            if shape != (self.input_size, self.input_size, 3):
                raise UserError(f"{self.onnx_path}: the model reads {shape} inputs; an embedder needs "
                                f"({self.input_size}, {self.input_size}, 3)")
            self._session = session
        return self._session

    @property
    def dim(self) -> int:
        if self._dim is None:
            if self.onnx_path:
                self._dim = int(self.session.get_outputs()[0].shape[-1])
            else:
                self._dim = int(self.model.output_shape[-1])
        return self._dim

    @property
    def metadata(self) -> dict[str, Any]:
        meta = super().metadata
        if self.digest:
            meta["digest"] = self.digest
        if self.privacy is not None:
            meta["privacy"] = self.privacy
        return meta

    def _forward(self, batch: list[np.ndarray]) -> np.ndarray:
        if self.onnx_path:
            from training.engine.onnx_export import run_onnx

            return run_onnx(self.session, np.stack(batch))  # (x - 127.5) / 128 is inside the graph
        x = (np.stack(batch).astype(np.float32) - 127.5) / 128.0
        # predict_on_batch runs Keras' compiled predict function: ~10x an eager call for one
        # probe on CPU (0.03 s against 0.30 s for MobileFaceNet here).
        return np.asarray(self.model.predict_on_batch(x), dtype=np.float64)


_loaded: dict[tuple[str, str], KerasEmbedder] = {}


def keras_embedder_loaded(path: str | Path, digest: str) -> bool:
    """Whether this process already holds the model of (path, digest)."""
    return (str(Path(path)), digest) in _loaded


def cached_keras_embedder(path: str | Path, digest: str) -> KerasEmbedder:
    """The process-wide embedder of one model file, loaded once per (path, digest).

    The file is re-hashed only when its size or mtime changed; a file that no longer has
    ``digest`` (replaced, deleted) raises ModelChanged.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise ModelChanged(f"model file {path.name} is missing") from None
    key = (str(path), digest)
    embedder = _loaded.get(key)
    if embedder is not None and getattr(embedder, "_stat", None) == (stat.st_size, stat.st_mtime_ns):
        return embedder
    embedder = KerasEmbedder.from_file(path, digest)
    embedder._stat = (stat.st_size, stat.st_mtime_ns)
    _loaded[key] = embedder
    while len(_loaded) > 4:  # a worker holds a few models at most
        _loaded.pop(next(iter(_loaded)))
    return embedder


@functools.cache
def reference_embedder() -> DlibResNetEmbedder:
    """The process-wide dlib ResNet embedder, cosine rule (galleries made before the
    Euclidean rule, and unit vectors for the face tests; its model loads on first embed)."""
    return DlibResNetEmbedder()


@functools.cache
def reference_l2_embedder() -> DlibResNetL2Embedder:
    """The reference embedder new galleries use: dlib's ResNet under dlib's Euclidean rule."""
    return DlibResNetL2Embedder()


def reference_by_name(name: str | None) -> Embedder | None:
    """The reference embedder a gallery names (either rule), else None."""
    for embedder in (reference_l2_embedder(), reference_embedder()):
        if name == embedder.name:
            return embedder
    return None
