"""Reading training samples straight from a .rec: sharding and shuffling."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasets.engine.stream import TrainingStream
from privface_core.errors import UserError

from .builders import jpeg, write_insightface


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path, dict[bytes, int]]:
    per_identity = [[jpeg((i * 20, j * 30, 7)) for j in range(3 + i % 2)] for i in range(5)]
    rec, idx = write_insightface(tmp_path, per_identity)
    expected = {image: label for label, images in enumerate(per_identity) for image in images}
    assert len(expected) == 17
    return rec, idx, expected


def test_plain_order_matches_fixture_labels(recordio_fixtures: Path) -> None:
    src = recordio_fixtures / "webface_tiny"
    stream = TrainingStream(src / "train.rec", src / "train.idx")
    labels = [label for _, label in stream]
    assert len(stream) == 80 and labels == [k // 8 for k in range(80)]
    assert labels == [label for _, label in TrainingStream(src / "train.rec")]


@pytest.mark.parametrize("indexed", [True, False])
def test_shards_are_disjoint_and_cover_everything(dataset, indexed: bool) -> None:
    rec, idx, expected = dataset
    seen: list[tuple[bytes, int]] = []
    for shard in range(3):
        stream = TrainingStream(rec, idx if indexed else None, shard_index=shard, num_shards=3)
        seen += list(stream)
    assert sorted(seen) == sorted(expected.items())


def test_shuffle_is_seeded_per_epoch_and_stays_in_shard(dataset) -> None:
    rec, idx, expected = dataset
    plain = list(TrainingStream(rec, idx, shard_index=1, num_shards=2))
    shuffled = TrainingStream(rec, idx, shuffle=True, seed=3, shard_index=1, num_shards=2)
    epoch0, epoch1 = list(shuffled.epoch(0)), list(shuffled.epoch(1))
    assert sorted(epoch0) == sorted(epoch1) == sorted(plain)
    assert epoch0 != plain and epoch0 != epoch1
    again = TrainingStream(rec, idx, shuffle=True, seed=3, shard_index=1, num_shards=2)
    assert list(again) == epoch0
    assert all(expected[image] == label for image, label in epoch0)


def test_bad_arguments(dataset) -> None:
    rec, idx, _ = dataset
    with pytest.raises(UserError, match="shard_index 3 of num_shards 3"):
        TrainingStream(rec, idx, shard_index=3, num_shards=3)
    with pytest.raises(UserError, match="shuffling needs the .idx"):
        TrainingStream(rec, shuffle=True)
    with pytest.raises(TypeError):
        len(TrainingStream(rec))
