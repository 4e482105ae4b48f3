"""The training input pipeline on ``tf.data``: encoded images in, normalised batches out.

One element is one batch, so the batches the samplers chose (Poisson batches of any size,
empty ones included) reach the step unchanged:

    from_generator  positions of a batch -> its encoded images, labels, flip decisions
                    (reads bytes from the folder or the ``.rec``: cheap, Python)
    map             decode in TensorFlow's own threads, no GIL (``decode_threads`` batches
                    at once, 0: tf.data's AUTOTUNE; images within a batch in parallel
                    too), resize to the
                    model's side, mirror where asked, ``(x - 127.5) / 128``
    prefetch        ``prefetch_batches`` batches ready while the step runs

Colours: TensorFlow decodes JPEGs to RGB, the same pixels as OpenCV's BGR decode after the
channel swap that ``pipeline.decode_image`` does (both libjpeg-turbo with the accurate
integer IDCT, which ``decode_jpeg`` has to be asked for). Evaluation keeps the NumPy
``ImageFetcher``; tests/training/test_tf_input.py checks the two agree.

The flip decisions are drawn in the generator from the caller's NumPy generator, in the
order the old thread-based pipeline drew them, so a resumed run flips the same images.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np
import tensorflow as tf

from datasets.engine.errors import DatasetError
from training.engine.data import ImageSource
from training.engine.pipeline import decode_image

# Batches remembered for naming an image TensorFlow could not decode: more than can be
# between the generator and the consumer (prefetch + parallel decodes + one).
_RECENT = 64


class TrainingInput:
    """``for images, labels in TrainingInput(...)``: float32 NHWC batches and int32 labels.

    ``subset`` maps batch indices (0..len-1, as the samplers draw them) to source positions.
    A read error or an undecodable image ends the iteration with a ``DatasetError`` that
    names the image.
    """

    def __init__(
        self,
        source: ImageSource,
        subset: np.ndarray,
        labels: np.ndarray,
        size: int,
        batches: Iterable[np.ndarray],
        flip_rng: np.random.Generator | None = None,
        decode_threads: int = 0,
        prefetch: int = 2,
    ) -> None:
        self.source, self.subset, self.labels, self.size = source, subset, labels, size
        self._batches, self._flip_rng = batches, flip_rng
        self._recent: deque[list[int]] = deque(maxlen=_RECENT)
        self._error: BaseException | None = None
        dataset = tf.data.Dataset.from_generator(
            self._encoded,
            output_signature=(
                tf.TensorSpec([None], tf.string),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.bool),
            ),
        )
        parallel = decode_threads or tf.data.AUTOTUNE
        dataset = dataset.map(self._decode_batch, num_parallel_calls=parallel, deterministic=True)
        self.dataset = dataset.prefetch(prefetch) if prefetch else dataset

    def _encoded(self) -> Iterator[tuple[list[bytes], np.ndarray, np.ndarray]]:
        try:
            for indices in self._batches:
                positions = [int(p) for p in self.subset[indices]]
                self._recent.append(positions)
                data = [self.source.read(p) for p in positions]
                if self._flip_rng is not None and positions:
                    flips = self._flip_rng.random(len(positions)) < 0.5
                else:
                    flips = np.zeros(len(positions), bool)
                yield np.array(data, dtype=object), self.labels[positions].astype(np.int32), flips
        except BaseException as err:  # TensorFlow would flatten it into an OpError: keep it
            self._error = err
            raise

    def _decode_one(self, item: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        data, flip = item

        def jpeg() -> tf.Tensor:
            return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")

        def other() -> tf.Tensor:
            return tf.io.decode_image(data, channels=3, expand_animations=False)

        image = tf.cond(tf.io.is_jpeg(data), jpeg, other)
        image.set_shape([None, None, 3])
        side = tf.constant([self.size, self.size])
        # INTER_AREA in pipeline.decode_image; "area" is TensorFlow's equivalent.
        image = tf.cond(
            tf.reduce_all(tf.shape(image)[:2] == side),
            lambda: image,
            lambda: tf.cast(tf.round(tf.image.resize(image, side, method="area")), tf.uint8),
        )
        # Per image: a broadcast tf.where over the batch is several times slower than decoding.
        return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)

    def _decode_batch(self, data: tf.Tensor, labels: tf.Tensor, flips: tf.Tensor):
        images = tf.map_fn(
            self._decode_one,
            (data, flips),
            fn_output_signature=tf.TensorSpec([self.size, self.size, 3], tf.uint8),
            parallel_iterations=16,
        )
        return (tf.cast(images, tf.float32) - 127.5) / 128.0, labels

    def __iter__(self) -> Iterator[tuple[tf.Tensor, tf.Tensor]]:
        try:
            yield from self.dataset
        except tf.errors.OpError as err:
            raise self._explain(err) from None

    def _explain(self, err: tf.errors.OpError) -> BaseException:
        if self._error is not None:
            return self._error
        # A decode failed in TensorFlow, whose message cannot say which image: find it.
        for positions in self._recent:
            for position in positions:
                decode_image(self.source.read(position), self.size, self.source.name_of(position))
        first_line = (err.message or "").strip().splitlines()[0] if err.message else type(err).__name__
        return DatasetError(f"cannot decode a training image: {first_line}")
