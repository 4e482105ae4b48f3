"""Embedders: an aligned face -> an L2-normalised float32 template for the gallery.

Every embedder takes an ``AlignedFace`` (or the raw input array it was trained on)
and picks the input it needs: dlib's ResNet uses dlib's own 150x150 chip, an
ArcFace-style backbone uses the 112x112 crop. Templates come out unit-length, so
scores are cosine similarities, as gallery.py and the encrypted search expect.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from inference.engine.gallery import l2_normalise

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

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def _forward(self, batch: list[np.ndarray]) -> np.ndarray:
        """Raw (N, dim) embeddings for uint8 RGB inputs of input_size x input_size."""

    @property
    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "private": self.private, "source": self.source}

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
        """(N, dim) float32, unit rows."""
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self._forward([self.input_of(f) for f in faces])
        return l2_normalise(raw).astype(np.float32)

    def embed(self, face: AlignedFace | np.ndarray) -> np.ndarray:
        """(dim,) float32, unit length."""
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


class KerasEmbedder(Embedder):
    """A trained Keras backbone on the 112x112 ArcFace crop, normalised (x - 127.5) / 128.

    The model loads on first use, so constructing one is cheap (and Keras-free).
    """

    input_size = 112
    source = "keras"

    def __init__(self, path: str, name: str | None = None, private: bool = True, threshold: float | None = None):
        self.path = path
        self.name = name or f"keras:{path}"
        self.private = private
        self.default_threshold = threshold
        self._model = None

    @property
    def model(self):
        if self._model is None:
            import keras

            self._model = keras.models.load_model(self.path, compile=False)
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.output_shape[-1])

    def _forward(self, batch: list[np.ndarray]) -> np.ndarray:
        x = (np.stack(batch).astype(np.float32) - 127.5) / 128.0
        return np.asarray(self.model.predict(x, verbose=0), dtype=np.float64)


@functools.cache
def reference_embedder() -> DlibResNetEmbedder:
    """The process-wide dlib ResNet embedder (its model loads on first embed)."""
    return DlibResNetEmbedder()
