"""The 10-fold LFW protocol on synthetic embeddings with known answers, and on lfw_tiny.bin."""

import numpy as np
import pytest

from training.engine.verification import VerificationSet, evaluate_pairs, flip_embeddings


def pairs_at_distances(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors in 2-D whose squared distance is ``dist`` (0..4)."""
    angle = 2 * np.arcsin(np.sqrt(dist) / 2)
    first = np.stack([np.ones_like(angle), np.zeros_like(angle)], axis=1)
    second = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return first, second


def test_separable_pairs_are_all_right():
    same = np.tile([True, False], 50)
    first, second = pairs_at_distances(np.where(same, 0.5, 1.5))
    result = evaluate_pairs(first, second, same)
    assert result.accuracy == 1.0 and result.accuracy_std == 0.0
    assert result.tar == 1.0 and result.far == 0.0
    assert 0.5 < result.threshold <= 1.5 and result.pairs == 100 and result.folds == 10


def test_one_swapped_pair_per_fold_gives_exactly_ninety_percent():
    same = np.tile([True, False], 50)
    dist = np.where(same, 0.5, 1.5)
    dist[np.arange(10) * 10] = 1.5  # the first pair of each fold is a same pair that looks different
    first, second = pairs_at_distances(dist)
    result = evaluate_pairs(first, second, same)
    assert result.accuracy == pytest.approx(0.9)
    assert result.accuracy_std == pytest.approx(0.0, abs=1e-12)
    assert result.tar == pytest.approx(0.8)  # 4 of the 5 same pairs per fold accepted
    assert result.far == 0.0


def test_unequal_folds_and_threshold_from_the_other_folds():
    # 23 pairs: folds of 3, 3, 3, 2, ... (sklearn KFold sizes); one fold alone is inverted.
    same = np.tile([True, False], 12)[:23]
    dist = np.where(same, 0.2, 2.0)
    dist[:3] = np.where(same[:3], 2.0, 0.2)
    result = evaluate_pairs(*pairs_at_distances(dist), same)
    # The other nine folds choose a threshold that gets the inverted fold entirely wrong.
    assert result.accuracy == pytest.approx(0.9)


def test_too_few_pairs_are_refused():
    with pytest.raises(ValueError, match="at least 10 pairs"):
        evaluate_pairs(np.ones((4, 2)), np.ones((4, 2)), np.ones(4, bool))


def test_flip_embeddings_sum_both_views_and_normalise():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 4, 4, 3)).astype("float32")
    weights = rng.normal(size=(48, 6))

    def embed(x):
        return x.reshape(len(x), -1) @ weights

    got = flip_embeddings(embed, images, batch_size=2)
    want = embed(images) + embed(images[:, :, ::-1])
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_lfw_tiny_end_to_end(webface_tiny):
    pairs = VerificationSet(str(webface_tiny / "lfw_tiny.bin"), 32)
    assert pairs.images.shape == (40, 32, 32, 3) and len(pairs.issame) == 20

    def colour_embedding(x):  # mean colour of the face region: identities differ in face colour
        centre = x[:, 8:24, 8:24, :]
        return centre.mean(axis=(1, 2)) - x.mean(axis=(1, 2, 3))[:, None]

    result = pairs.evaluate(colour_embedding)
    assert result.pairs == 20 and result.folds == 10
    assert result.accuracy >= 0.8
    constant = pairs.evaluate(lambda x: np.ones((len(x), 3)))
    assert constant.accuracy == pytest.approx(0.5)  # everything at distance 0: chance


def test_a_bin_with_fewer_than_ten_pairs_is_refused_before_training(webface_tiny, tmp_path):
    import pickle

    from datasets.engine.errors import DatasetError
    from datasets.engine.evalbin import read_bin

    images, issame = read_bin(webface_tiny / "lfw_tiny.bin")
    small = tmp_path / "small.bin"
    small.write_bytes(pickle.dumps((images[:8], issame[:4])))
    with pytest.raises(DatasetError, match="at least 10 pairs"):
        VerificationSet(str(small), 32)
