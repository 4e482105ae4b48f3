"""Decoding batches of face images, and decoding the next ones while the current step runs.

Images become float32 RGB in [-1, 1) as ``(x - 127.5) / 128`` (insightface's
normalisation), resized to the model's input side if they are not already that size.
JPEG payloads hold BGR arrays (MXNet and insightface pack with OpenCV), so OpenCV decodes
them and the channels are swapped to RGB. No TensorFlow here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from datasets.engine.errors import DatasetError
from training.engine.data import ImageSource

Fetch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


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


_DONE = object()


class Prefetcher:
    """Yields ``(indices, images, labels)`` for ``batches``, fetched up to ``depth`` batches ahead.

    A background thread runs ``fetch``; an exception there comes out of the iteration.
    ``close()`` (or leaving a ``with`` block) stops the thread, e.g. after a cancellation.
    ``depth=0`` fetches inline.
    """

    def __init__(self, batches: Iterable[np.ndarray], fetch: Fetch, depth: int = 2) -> None:
        self._batches, self._fetch, self._depth = batches, fetch, depth
        self._stop = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(depth, 1))
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for indices in self._batches:
                if not self._put((indices, *self._fetch(indices))):
                    return
            self._put(_DONE)
        except BaseException as err:  # handed to the consumer, which re-raises it
            self._put(err)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self._depth == 0:
            for indices in self._batches:
                yield (indices, *self._fetch(indices))
            return
        self._thread = threading.Thread(target=self._work, name="prefetch", daemon=True)
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
