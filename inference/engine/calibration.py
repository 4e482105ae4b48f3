"""Open-set thresholds calibrated per gallery. Django-free.

A 1:N search answers "no match" when no template scores at or above the gallery's
threshold. A stranger (someone never enrolled) is falsely matched when *any* of the N
templates reaches it, so the false-positive identification rate grows with N:

    FPIR(t) = 1 - (1 - FAR(t)) ** N

where FAR(t) is the chance one impostor pair (a face against another person's template)
scores at least t. A gallery estimates

- impostor scores: every sample photo against the templates of the *other* enrolled
  identities, plus (optionally) photos of people not enrolled (a background set)
  against every template;
- genuine scores: leave-one-out within identities that have several photos (the photo
  against its identity's template rebuilt without it);

and picks the lowest threshold whose estimated FPIR at its size is at most the target
(default 1 %). With few impostor pairs the empirical tail cannot resolve the per-pair
rate needed (for a 1 % FPIR at N = 100 it is 1e-4), so the threshold is also at least a
Gaussian fit of the impostor tail; every figure comes with the number of pairs it rests
on and a 95 % upper bound (Wilson) on the FPIR.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from inference.engine.gallery import l2_normalise, similarities

DEFAULT_FPIR = 0.01
MIN_PAIRS = 30  # below this many impostor pairs the gallery keeps the model's default threshold
TAIL_FIT_BELOW = 10  # expected false accepts at the target under which the Gaussian tail is used too
MAX_SAMPLES_PER_IDENTITY = 10  # sample photos kept per identity for calibration
MAX_PROBES = 2000  # sample photos scored against the whole gallery (cost: probes x templates)
Z95 = 1.959964


@dataclass(frozen=True)
class Scores:
    """The score samples a calibration rests on (cosine similarities)."""

    impostor: np.ndarray  # per pair: a face against a template of someone else
    genuine: np.ndarray  # per probe: a face against its own identity's template (left out of it)
    stranger_max: np.ndarray  # per background photo: its best score over the whole gallery
    gallery_size: int  # templates a search compares against

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"impostor": self.impostor.astype(np.float32), "genuine": self.genuine.astype(np.float32),
                "stranger_max": self.stranger_max.astype(np.float32),
                "gallery_size": np.array([self.gallery_size], np.int64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Scores:
        return cls(np.asarray(arrays["impostor"], np.float64), np.asarray(arrays["genuine"], np.float64),
                   np.asarray(arrays["stranger_max"], np.float64), int(arrays["gallery_size"][0]))


@dataclass(frozen=True)
class Calibration:
    threshold: float | None
    method: str  # "calibrated", "tail fit", "default" (too few pairs: the model's default)
    fpir_target: float
    far_target: float  # per-pair false accept rate that gives fpir_target at gallery_size
    fpir: float | None  # estimated at the threshold for this gallery's size
    fpir_upper: float | None  # 95 % upper bound
    fnir: float | None  # genuine probes below the threshold
    stranger_fpir: float | None  # background photos matched at the threshold (measured, not estimated)
    impostor_pairs: int
    genuine_pairs: int
    strangers: int
    gallery_size: int

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def far_target(fpir: float, gallery_size: int) -> float:
    """Per-pair false accept rate whose FPIR over ``gallery_size`` templates is ``fpir``."""
    if not 0 < fpir < 1:
        raise ValueError("the FPIR target must be between 0 and 1")
    return 1.0 - (1.0 - fpir) ** (1.0 / max(1, gallery_size))


def _wilson_upper(hits: int, n: int) -> float:
    if n == 0:
        return 1.0
    p = hits / n
    centre = p + Z95 * Z95 / (2 * n)
    spread = Z95 * math.sqrt(p * (1 - p) / n + Z95 * Z95 / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + Z95 * Z95 / n))


def _fpir(far: float, gallery_size: int) -> float:
    return 1.0 - (1.0 - far) ** max(1, gallery_size)


def rates(scores: Scores, threshold: float) -> dict:
    """Estimated FPIR (and bound), FNIR and measured stranger FPIR at ``threshold``."""
    n = len(scores.impostor)
    hits = int(np.count_nonzero(scores.impostor >= threshold))
    return {
        "fpir": _fpir(hits / n, scores.gallery_size) if n else None,
        "fpir_upper": _fpir(_wilson_upper(hits, n), scores.gallery_size) if n else None,
        "fnir": float(np.mean(scores.genuine < threshold)) if len(scores.genuine) else None,
        "stranger_fpir": float(np.mean(scores.stranger_max >= threshold)) if len(scores.stranger_max) else None,
    }


def pick_threshold(scores: Scores, fpir_target: float = DEFAULT_FPIR, default: float | None = None) -> Calibration:
    """The lowest threshold whose estimated FPIR at the gallery's size is at most the target."""
    target = far_target(fpir_target, scores.gallery_size)
    impostor = np.sort(np.asarray(scores.impostor, np.float64))[::-1]
    n = len(impostor)
    method = "calibrated"
    if n < MIN_PAIRS:
        threshold = default
        if n:
            above = float(impostor[0]) + 1e-4  # never below a stranger already seen
            threshold = above if threshold is None else max(threshold, above)
        method = "default"
    else:
        allowed = int(math.floor(target * n))  # false accepts the target permits among n pairs
        threshold = float(impostor[allowed]) + 1e-4 if allowed < n else float(impostor[-1])
        if target * n < TAIL_FIT_BELOW:
            mean, std = float(impostor.mean()), float(impostor.std(ddof=1))
            fitted = mean + NormalDist().inv_cdf(1.0 - target) * std
            if fitted > threshold:
                threshold, method = fitted, "tail fit"
    if threshold is not None:
        threshold = round(min(1.0, threshold), 4)
    measured = rates(scores, threshold) if threshold is not None else {}
    return Calibration(
        threshold=threshold, method=method, fpir_target=fpir_target, far_target=target,
        fpir=measured.get("fpir"), fpir_upper=measured.get("fpir_upper"), fnir=measured.get("fnir"),
        stranger_fpir=measured.get("stranger_fpir"), impostor_pairs=n, genuine_pairs=len(scores.genuine),
        strangers=len(scores.stranger_max), gallery_size=scores.gallery_size)


def gallery_scores(samples: np.ndarray, sample_labels: list[str], templates: np.ndarray,
                   template_labels: list[str], mode: str, sums: np.ndarray | None = None,
                   identities: list[str] | None = None, background: np.ndarray | None = None,
                   max_probes: int = MAX_PROBES, rule: str = "cosine", counts: dict | None = None) -> Scores:
    """Impostor, genuine and stranger scores of a gallery from its sample photos.

    ``samples`` are the embedder's vectors of enrolled photos (labels ``sample_labels``);
    ``templates`` what the search scores, under ``rule`` (gallery.similarities). In mean
    mode ``sums`` (per identity, in ``identities`` order; ``counts`` photos per identity
    for the euclidean rule's plain mean) rebuild an identity's template without the
    left-out photo; in all mode the photo's best score over its identity's *other*
    sample photos stands in.
    """
    samples = np.asarray(samples, np.float64).reshape(-1, templates.shape[1] if len(templates) else 0)
    templates = np.asarray(templates, np.float64)
    labels = np.asarray(sample_labels, dtype=object)
    tlabels = np.asarray(template_labels, dtype=object)
    if len(samples) > max_probes:  # spread evenly over the gallery
        keep = np.linspace(0, len(samples) - 1, max_probes).round().astype(int)
        samples, labels = samples[keep], labels[keep]
    impostor, genuine = [], []
    if len(samples) and len(templates):
        scores = similarities(samples, templates, rule)  # (probes, templates)
        other = labels[:, None] != tlabels[None, :]
        impostor.append(scores[other])
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        if mode == "mean" and sums is not None and identities is not None:
            row_of = {label: i for i, label in enumerate(identities)}
            for i, label in enumerate(labels):
                row = row_of.get(label)
                if row is None:
                    continue
                n = (counts or {}).get(label, 0)
                rest = sums[row] - samples[i]
                if (rule == "cosine" and np.linalg.norm(rest) < 1e-6) or (rule != "cosine" and n < 2):
                    continue  # the identity's only photo
                template = l2_normalise(rest) if rule == "cosine" else rest / (n - 1)
                genuine.append(float(similarities(samples[i][None], template[None], rule)[0, 0]))
        else:
            for i, label in enumerate(labels):
                if counts[label] < 2:
                    continue
                mates = np.flatnonzero(labels == label)
                mates = mates[mates != i]
                genuine.append(float(np.max(similarities(samples[i][None], samples[mates], rule))))
    stranger_max = np.zeros(0)
    if background is not None and len(background) and len(templates):
        bg = similarities(background, templates, rule)
        impostor.append(bg.ravel())
        stranger_max = bg.max(axis=1)
    return Scores(np.concatenate(impostor) if impostor else np.zeros(0), np.asarray(genuine, np.float64),
                  stranger_max, len(templates))
