"""Loss-threshold membership inference (Yeom et al., 2018) as a privacy audit.

The attacker guesses "member" when an image's loss is below a threshold. Over all
thresholds that is a ROC curve of members (trained-on images) against non-members
(held-out images of the same identities); its AUC is 0.5 when the model treats them
alike and 1.0 when the loss gives membership away. ``advantage`` is the best
``TPR - FPR`` over thresholds. DP-SGD bounds what any such attack can do; this audit only
measures one simple attack, so a low AUC is evidence, not proof, of privacy.
"""

from __future__ import annotations

import numpy as np


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def roc_auc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """P(positive score > negative score) + P(tie) / 2: the Mann-Whitney U statistic, via ranks."""
    pos = np.asarray(positive_scores, np.float64).ravel()
    neg = np.asarray(negative_scores, np.float64).ravel()
    if not len(pos) or not len(neg):
        raise ValueError("ROC AUC needs at least one score of each kind")
    ranks = _average_ranks(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def _advantage(pos: np.ndarray, neg: np.ndarray) -> float:
    """max over thresholds t of P(pos >= t) - P(neg >= t)."""
    thresholds = np.unique(np.concatenate([pos, neg]))
    tpr = 1.0 - np.searchsorted(np.sort(pos), thresholds, side="left") / len(pos)
    fpr = 1.0 - np.searchsorted(np.sort(neg), thresholds, side="left") / len(neg)
    return float(max(0.0, np.max(tpr - fpr)))


def loss_threshold_audit(member_losses: np.ndarray, nonmember_losses: np.ndarray) -> dict:
    """AUC and advantage of guessing "member" for low loss (score = -loss)."""
    members = -np.asarray(member_losses, np.float64).ravel()
    nonmembers = -np.asarray(nonmember_losses, np.float64).ravel()
    finite = np.isfinite(members).all() and np.isfinite(nonmembers).all()
    if not finite:
        raise ValueError("membership audit: losses must be finite")
    return {
        "attack": "loss-threshold",
        "auc": roc_auc(members, nonmembers),
        "advantage": _advantage(members, nonmembers),
        "members": int(len(members)),
        "nonmembers": int(len(nonmembers)),
    }
