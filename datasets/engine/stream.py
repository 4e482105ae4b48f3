"""Training straight from a ``.rec``: ``(image_bytes, label)`` without extracting files.

Meant to be wrapped by the training pipeline, e.g.
``tf.data.Dataset.from_generator(lambda: stream.epoch(n), output_signature=...)``;
nothing here imports TensorFlow. With an ``.idx`` records are read by offset, so the
order can be shuffled and the images split between workers (``shard_index`` of
``num_shards``: shard k gets images k, k + n, k + 2n, ... in key order, so the shards are
disjoint and cover everything whatever the seed). Without one the file is scanned in
order, which still shards but cannot shuffle.
"""

from __future__ import annotations

import os
import random
from array import array
from collections.abc import Iterator

from datasets.engine import irheader, layout
from datasets.engine.errors import DatasetError
from datasets.engine.idxfile import read_index
from datasets.engine.recordio import RecordFile


class TrainingStream:
    """Re-iterable source of ``(image_bytes, label)``; each iteration reopens the file."""

    def __init__(
        self,
        rec_path: str | os.PathLike[str],
        idx_path: str | os.PathLike[str] | None = None,
        *,
        shuffle: bool = False,
        seed: int = 0,
        shard_index: int = 0,
        num_shards: int = 1,
    ) -> None:
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise DatasetError(f"shard_index {shard_index} of num_shards {num_shards}: need 0 <= index < shards")
        if shuffle and idx_path is None:
            raise DatasetError("shuffling needs the .idx file (random access by offset)")
        self.rec_path = os.fspath(rec_path)
        self.shuffle, self.seed = shuffle, seed
        self.shard_index, self.num_shards = shard_index, num_shards
        with RecordFile(self.rec_path) as rec:
            self.layout = layout.detect(rec.read_at(0), f"{self.rec_path} first record")
            self._offsets: array | None = None
            if idx_path is not None:
                index = read_index(idx_path, rec.size)
                kind = self.layout.kind
                keys, offsets = array("q"), array("q")
                for key, offset in zip(index.keys, index.offsets, strict=True):
                    if kind(key) == "image":
                        keys.append(key)
                        offsets.append(offset)
                if any(a > b for a, b in zip(keys, keys[1:], strict=False)):
                    # Shards are defined in key order; .idx files are in offset order,
                    # which MXNet's writers make the same, so this sort is rare.
                    order = sorted(range(len(keys)), key=keys.__getitem__)
                    offsets = array("q", (offsets[i] for i in order))
                self._offsets = offsets[shard_index::num_shards]

    def __len__(self) -> int:
        """Images in this shard (known only with an ``.idx``)."""
        if self._offsets is None:
            raise TypeError("the number of images is known only with an .idx file")
        return len(self._offsets)

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        return self.epoch(0)

    def epoch(self, number: int) -> Iterator[tuple[bytes, int]]:
        """One pass; with ``shuffle`` the order depends on ``seed`` and ``number``."""
        if self._offsets is None:
            return self._scan()
        return self._indexed(number)

    def _decode(self, data: bytes, where: str) -> tuple[bytes, int]:
        header, start = irheader.unpack(data, where)
        return data[start:], irheader.class_label(header, where)

    def _indexed(self, number: int) -> Iterator[tuple[bytes, int]]:
        assert self._offsets is not None
        order: list[int] | range = range(len(self._offsets))
        if self.shuffle:
            order = list(order)
            random.Random(self.seed * 1_000_003 + number).shuffle(order)
        offsets = self._offsets
        with RecordFile(self.rec_path) as rec:
            for i in order:
                where = f"{self.rec_path} record at byte {offsets[i]}"
                yield self._decode(rec.read_at(offsets[i], where), where)

    def _scan(self) -> Iterator[tuple[bytes, int]]:
        images = 0
        with RecordFile(self.rec_path) as rec:
            for key, (offset, data) in enumerate(rec.scan()):
                if self.layout.kind(key) != "image":
                    continue
                if images % self.num_shards == self.shard_index:
                    where = f"{self.rec_path} record key {key} (byte {offset})"
                    yield self._decode(data, where)
                images += 1
