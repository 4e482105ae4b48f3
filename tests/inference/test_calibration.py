"""Open-set thresholds (inference/engine/calibration.py): on hand-made score distributions,
and leave-one-identity-out on the fixture photos, where strangers must be matched no more
often than the gallery claims."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine.calibration import (
    MIN_PAIRS,
    Scores,
    far_target,
    gallery_scores,
    pick_threshold,
    rates,
)
from inference.engine.gallery import l2_normalise


def scores(impostor, genuine=(), strangers=(), size=10) -> Scores:
    return Scores(np.asarray(impostor, float), np.asarray(genuine, float), np.asarray(strangers, float), size)


def test_it_turns_the_fpir_target_into_a_per_pair_rate_that_shrinks_with_the_gallery():
    assert far_target(0.01, 1) == pytest.approx(0.01)
    assert far_target(0.01, 100) == pytest.approx(1.005e-4, rel=1e-3)
    assert 1 - (1 - far_target(0.05, 1000)) ** 1000 == pytest.approx(0.05)
    with pytest.raises(ValueError):
        far_target(0.0, 10)


def test_it_picks_the_lowest_threshold_meeting_the_target_on_a_hand_made_distribution():
    # 10,000 impostor pairs 0.0000 .. 0.9999; gallery of 1: FAR target = FPIR target = 1 %.
    impostor = np.arange(10_000) / 10_000
    genuine = np.array([0.95, 0.97, 0.985, 0.995, 0.999])
    cal = pick_threshold(scores(impostor, genuine, size=1), 0.01)
    # 100 pairs may score at or above it: just above the 101st largest (0.9899) lets exactly 100 through.
    assert cal.method == "calibrated" and cal.threshold == pytest.approx(0.99, abs=1e-9)
    assert int(np.sum(impostor >= cal.threshold)) == 100
    assert cal.fpir == pytest.approx(0.01) and cal.fpir <= cal.far_target < cal.fpir_upper
    # One notch lower would let a 101st pair through: it is the lowest that meets the target.
    assert int(np.sum(impostor >= cal.threshold - 1e-4)) == 101
    assert cal.fnir == pytest.approx(0.6)  # 0.95, 0.97 and 0.985 fall below 0.99
    assert (cal.impostor_pairs, cal.genuine_pairs, cal.gallery_size) == (10_000, 5, 1)
    # A bigger gallery needs a stricter threshold for the same FPIR.
    big = pick_threshold(scores(impostor, genuine, size=10), 0.01)
    assert big.threshold > cal.threshold and big.fpir <= 0.01


def test_with_few_pairs_the_tail_fit_keeps_it_above_every_impostor_seen():
    rng = np.random.default_rng(0)
    impostor = rng.normal(0.5, 0.1, 200)
    cal = pick_threshold(scores(impostor, size=100), 0.01)  # needs FAR 1e-4 from 200 pairs
    assert cal.method == "tail fit"
    assert cal.threshold == pytest.approx(0.5 + 3.72 * 0.1, abs=0.03)  # z(1 - 1e-4) = 3.72
    assert cal.threshold > impostor.max() and cal.fpir == 0.0


def test_too_few_pairs_keep_the_models_default_but_never_below_a_seen_impostor():
    few = scores([0.2, 0.3, 0.5], size=3)
    assert MIN_PAIRS > 3
    assert pick_threshold(few, 0.01, default=0.9).threshold == 0.9
    assert pick_threshold(few, 0.01, default=0.4).threshold == pytest.approx(0.5001)
    assert pick_threshold(scores([], size=1), 0.01, default=0.9).method == "default"
    assert pick_threshold(scores([], size=1), 0.01).threshold is None


def test_rates_at_an_owner_threshold_include_the_measured_strangers():
    s = scores(np.linspace(0, 1, 101), genuine=[0.6, 0.8, 0.9, 1.0], strangers=[0.3, 0.75, 0.95], size=1)
    r = rates(s, 0.7)
    assert r["fpir"] == pytest.approx(31 / 101) and r["fnir"] == 0.25 and r["stranger_fpir"] == pytest.approx(2 / 3)


def test_gallery_scores_leave_each_photo_out_of_its_own_template():
    # Two identities, two photos each, orthogonal-ish directions.
    a1, a2 = l2_normalise(np.array([1.0, 0.1, 0])), l2_normalise(np.array([1.0, -0.1, 0]))
    b1, b2 = l2_normalise(np.array([0, 1.0, 0.1])), l2_normalise(np.array([0, 1.0, -0.1]))
    samples = np.stack([a1, a2, b1, b2])
    sums = np.stack([a1 + a2, b1 + b2])
    templates = l2_normalise(sums)
    s = gallery_scores(samples, ["a", "a", "b", "b"], templates, ["a", "b"], "mean", sums=sums, identities=["a", "b"])
    assert len(s.impostor) == 4 and s.gallery_size == 2
    # Genuine: a1 against a2 alone (its template without a1), not against a template containing itself.
    assert sorted(s.genuine) == pytest.approx(sorted([a1 @ a2, a2 @ a1, b1 @ b2, b2 @ b1]))
    background = np.stack([l2_normalise(np.array([0, 0, 1.0]))])
    with_bg = gallery_scores(samples, ["a", "a", "b", "b"], templates, ["a", "b"], "mean", sums=sums,
                             identities=["a", "b"], background=background)
    assert len(with_bg.impostor) == 6 and len(with_bg.stranger_max) == 1
    all_mode = gallery_scores(samples, ["a", "a", "b", "b"], samples, ["a", "a", "b", "b"], "all")
    assert sorted(all_mode.genuine) == pytest.approx(sorted([a1 @ a2, a2 @ a1, b1 @ b2, b2 @ b1]))
    assert len(all_mode.impostor) == 8


@pytest.mark.slow
def test_leave_one_identity_out_on_the_fixtures_meets_the_fpir_the_gallery_claims():
    """Each person in turn is a stranger to a gallery of the others (3 photos each); the
    others' remaining photos must still be found."""
    import sys

    from tests.inference_api.helpers import FACES, REPO

    sys.path.insert(0, str(REPO / "bench"))
    import open_set

    from inference.engine.embedders import DlibResNetL2Embedder

    files, labels = open_set.load_photos(FACES)
    raw, _, default = open_set.raw_embeddings(files, FACES, None)
    cosine = open_set.leave_one_identity_out(l2_normalise(raw), labels, 3, 0.01, default)
    # dlib's own rule, what new reference galleries use.
    euclidean = open_set.leave_one_identity_out(raw * DlibResNetL2Embedder.SCALE, labels, 3, 0.01, 0.92,
                                                rule="euclidean")
    for loio in (cosine, euclidean):
        assert loio["strangers"] == 48 and loio["held_out"] == 168
        for fold in loio["folds"]:
            # Each gallery claims an FPIR at its threshold (estimate and 95 % bound): the strangers meet it.
            assert fold["claimed_fpir"] <= 0.01
            assert fold["strangers_matched"] / fold["strangers"] <= fold["claimed_fpir_upper"]
        assert loio["fpir"] <= 0.01, loio
        assert loio["fnir"] <= 0.05, loio  # 0 / 168 here under both rules (docs/faces.md)
