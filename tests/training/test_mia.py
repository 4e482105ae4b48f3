"""Membership-inference audit: AUC by ranks, an overfit model leaks, equal distributions do not."""

import keras
import numpy as np
import pytest

from training.engine import dp_layers, heads
from training.engine.loop import classifier_trainer
from training.engine.mia import loss_threshold_audit, roc_auc


def brute_force_auc(pos, neg):
    wins = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    return float(np.mean(wins))


def test_auc_matches_pairwise_count_including_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 6, 40).astype(float), rng.integers(1, 7, 30).astype(float)
    assert roc_auc(pos, neg) == pytest.approx(brute_force_auc(pos, neg))
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert roc_auc([0.0], [1.0]) == 0.0
    assert roc_auc([1.0, 1.0], [1.0]) == 0.5


def test_same_distribution_gives_half():
    rng = np.random.default_rng(1)
    result = loss_threshold_audit(rng.exponential(size=3000), rng.exponential(size=3000))
    assert abs(result["auc"] - 0.5) < 0.03 and result["advantage"] < 0.06


def test_overfit_model_gives_members_away():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # Random images with random labels: nothing to learn but the members themselves.
    members_x = rng.normal(size=(24, 8, 8, 3)).astype("float32")
    members_y = rng.integers(0, 5, 24)
    others_x = rng.normal(size=(24, 8, 8, 3)).astype("float32")
    others_y = rng.integers(0, 5, 24)
    inputs = keras.Input((8, 8, 3))
    backbone = keras.Model(inputs, dp_layers.Dense(32)(keras.layers.Flatten()(inputs)))  # 192 -> 32: can memorise
    head = heads.make_head("softmax", 5)
    head.build((None, 32))
    trainer = classifier_trainer(backbone, head, keras.optimizers.Adam(0.02), seed=0)
    before = loss_threshold_audit(trainer.loss_fn(members_x, members_y), trainer.loss_fn(others_x, others_y))
    for _ in range(100):
        trainer.train_step(members_x, members_y)
    after = loss_threshold_audit(trainer.loss_fn(members_x, members_y), trainer.loss_fn(others_x, others_y))
    assert abs(before["auc"] - 0.5) < 0.25
    assert after["auc"] > 0.85 and after["members"] == after["nonmembers"] == 24


def test_non_finite_losses_are_refused():
    with pytest.raises(ValueError, match="finite"):
        loss_threshold_audit([np.nan], [1.0])
