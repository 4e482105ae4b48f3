"""Decoding batches of face images with OpenCV, for evaluation and the audit.

Images become float32 RGB in [-1, 1) as ``(x - 127.5) / 128`` (insightface's
normalisation), resized to the model's input side if they are not already that size.
JPEG payloads hold BGR arrays (MXNet and insightface pack with OpenCV), so OpenCV decodes
them and the channels are swapped to RGB. No TensorFlow here; training batches come
through ``tf_input`` (tf.data), which decodes the same pixels.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from datasets.engine.errors import DatasetError
from training.engine.data import ImageSource


def decode_image(data: bytes, size: int, where: str = "image") -> np.ndarray:
    """Encoded JPEG/PNG bytes -> uint8 RGB array ``(size, size, 3)``."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{where}: cannot decode the image (not a JPEG or PNG?)")
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 ``(x - 127.5) / 128``."""
    return (images.astype(np.float32) - 127.5) / 128.0


class ImageFetcher:
    """``fetch(indices)`` over the positions ``subset`` of a source: normalised images and labels.

    ``indices`` count within ``subset`` (0..len(subset)-1), as the samplers produce them.
    ``flip_rng`` given: each image is mirrored left-right with probability 1/2.
    """

    def __init__(
        self,
        source: ImageSource,
        subset: np.ndarray,
        labels: np.ndarray,
        size: int,
        threads: int = 1,
    ) -> None:
        self.source, self.subset, self.labels, self.size = source, subset, labels, size
        # OpenCV releases the GIL while decoding, so threads decode in parallel.
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="decode") if threads > 1 else None

    def __len__(self) -> int:
        return len(self.subset)

    def _decode(self, position: int) -> np.ndarray:
        return decode_image(self.source.read(position), self.size, self.source.name_of(position))

    def uint8(self, indices: np.ndarray) -> np.ndarray:
        positions = [int(p) for p in self.subset[indices]]
        if not positions:
            return np.zeros((0, self.size, self.size, 3), np.uint8)
        decoded = self._pool.map(self._decode, positions) if self._pool else map(self._decode, positions)
        return np.stack(list(decoded))

    def __call__(self, indices: np.ndarray, flip_rng: np.random.Generator | None = None) -> tuple:
        images = self.uint8(indices)
        if flip_rng is not None and len(images):
            flips = flip_rng.random(len(images)) < 0.5
            images[flips] = images[flips, :, ::-1]
        return normalize(images), self.labels[self.subset[indices]]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
