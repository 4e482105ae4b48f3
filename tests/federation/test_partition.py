import numpy as np
import pytest

from federation.engine.partition import describe, partition
from privface_core.errors import UserError

LABELS = np.repeat(np.arange(10), 8)  # webface_tiny's shape: 10 identities x 8 images


@pytest.mark.parametrize("method", ["iid", "by_identity", "dirichlet"])
def test_it_gives_every_image_to_exactly_one_client(method):
    parts = partition(LABELS, 3, method, alpha=1.0, seed=4)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(len(LABELS)))
    assert all(len(p) >= 2 for p in parts)


@pytest.mark.parametrize("method", ["iid", "by_identity", "dirichlet"])
def test_it_is_reproducible_from_the_seed(method):
    a = partition(LABELS, 3, method, alpha=0.5, seed=9)
    b = partition(LABELS, 3, method, alpha=0.5, seed=9)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_by_identity_clients_hold_disjoint_identities():
    parts = partition(LABELS, 3, "by_identity", seed=1)
    sets = [set(LABELS[p].tolist()) for p in parts]
    assert sum(len(s) for s in sets) == 10
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2]) and not (sets[0] & sets[2])
    assert sorted(len(s) for s in sets) == [3, 3, 4]


def test_iid_clients_are_even():
    sizes = [len(p) for p in partition(LABELS, 3, "iid", seed=2)]
    assert max(sizes) - min(sizes) <= 1


def test_dirichlet_small_alpha_skews_labels():
    labels = np.repeat(np.arange(20), 50)
    skewed = partition(labels, 4, "dirichlet", alpha=0.05, seed=3)
    even = partition(labels, 4, "dirichlet", alpha=1000.0, seed=3)

    def top_share(parts):  # how much of a client's data its most common identity makes up
        return np.mean([np.bincount(labels[p]).max() / len(p) for p in parts])

    assert top_share(skewed) > 2 * top_share(even)


def test_it_refuses_more_clients_than_identities_by_identity():
    with pytest.raises(UserError, match="only 10 identities"):
        partition(LABELS, 11, "by_identity")


def test_it_refuses_an_impossible_split():
    with pytest.raises(UserError, match="--num_clients"):
        partition(LABELS, 50, "iid")
    with pytest.raises(UserError, match="--alpha"):
        partition(np.repeat(np.arange(2), 3), 3, "dirichlet", alpha=0.01)


def test_it_describes_clients_for_the_model_card():
    parts = partition(LABELS, 2, "by_identity", seed=0)
    rows = describe(LABELS, parts)
    assert [r["identities"] for r in rows] == [5, 5] and sum(r["images"] for r in rows) == 80
