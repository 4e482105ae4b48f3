"""Open-set 1:N search on the fixture photos, leave-one-identity-out (issue #11).

Each person in turn is removed from the gallery and all their photos become strangers;
the other people are enrolled with their first ``--enroll`` photos (mean templates), the
gallery calibrates its own threshold for ``--fpir`` (inference/engine/calibration.py,
exactly as an enrollment job does), and their remaining photos must still be found
(rank 1 and at or above the threshold). Reports FPIR (strangers matched to anyone) and
FNIR (held-out photos not found) at the chosen threshold, summed over the folds, and
compares cosine on normalised vectors with the embedder's own distance (dlib: Euclidean
on raw descriptors) over every labelled pair.

    .venv/bin/python bench/open_set.py --json
    .venv/bin/python bench/open_set.py --model var/run/export/backbone.keras --json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from inference.engine.calibration import DEFAULT_FPIR, gallery_scores, pick_threshold  # noqa: E402
from inference.engine.enroll import mean_templates  # noqa: E402
from inference.engine.gallery import l2_normalise, similarities  # noqa: E402

FACES = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures")) / "faces"


def load_photos(faces: Path) -> tuple[list[str], list[str]]:
    with open(faces / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["identity"]) for r in csv.DictReader(fh)]
    return [f for f, _ in rows], [p for _, p in rows]


def raw_embeddings(files: list[str], faces: Path, model: str | None):
    """(raw vectors, embedder metadata, default threshold): dlib's raw descriptors are kept
    (not normalised) so that its own Euclidean rule can be compared."""
    from inference.engine.embedders import KerasEmbedder, reference_embedder
    from inference.engine.faces import align_face_bytes

    embedder = KerasEmbedder.from_file(model) if model else reference_embedder()
    aligned = [align_face_bytes((faces / f).read_bytes()) for f in files]
    raw = embedder._forward([embedder.input_of(a) for a in aligned])
    return np.asarray(raw, np.float64), embedder.metadata, embedder.default_threshold


def auc(same: np.ndarray, diff: np.ndarray) -> float:
    """P(a same-person score > a different-person score), ties half."""
    s, d = same[:, None], diff[None, :]
    return float(np.mean((s > d) + 0.5 * (s == d)))


def eer(same: np.ndarray, diff: np.ndarray) -> float:
    best = 1.0
    for t in np.unique(np.concatenate([same, diff])):
        far, frr = np.mean(diff >= t), np.mean(same < t)
        best = min(best, max(far, frr))
    return float(best)


def compare_rules(raw: np.ndarray, labels: list[str]) -> dict:
    """Cosine on unit vectors against negative Euclidean distance on raw vectors, all pairs."""
    lab = np.asarray(labels)
    iu = np.triu_indices(len(lab), 1)
    same = (lab[:, None] == lab[None, :])[iu]
    unit = l2_normalise(raw)
    cosine = (unit @ unit.T)[iu]
    euclid = -np.linalg.norm(raw[:, None, :] - raw[None, :, :], axis=-1)[iu]
    out = {}
    for name, score in (("cosine_normalised", cosine), ("euclidean_raw", euclid)):
        g, i = score[same], score[~same]
        out[name] = {"auc": round(auc(g, i), 5), "eer": round(eer(g, i), 4),
                     "gap": round(float(g.min() - i.max()), 4),
                     "d_prime": round(float((g.mean() - i.mean()) / np.sqrt(0.5 * (g.var() + i.var()))), 3)}
    out["pairs"] = {"same": int(same.sum()), "different": int((~same).sum())}
    norms = np.linalg.norm(raw, axis=1)
    out["raw_norms"] = {"min": round(float(norms.min()), 4), "max": round(float(norms.max()), 4)}
    return out


def leave_one_identity_out(unit: np.ndarray, labels: list[str], enroll: int, fpir: float,
                           default: float | None, rule: str = "cosine") -> dict:
    """``unit``: the embedder's vectors (unit rows for cosine, scaled raw for euclidean)."""
    lab = np.asarray(labels)
    people = list(dict.fromkeys(labels))
    folds, strangers = [], 0
    false_pos = genuine = missed = 0
    for out in people:
        enrolled = [p for p in people if p != out]
        idx = {p: np.flatnonzero(lab == p) for p in people}
        train = {p: idx[p][:enroll] for p in enrolled}
        held = {p: idx[p][enroll:] for p in enrolled}
        identities = enrolled
        sums = np.stack([unit[train[p]].sum(axis=0) for p in identities])
        counts = {p: len(train[p]) for p in identities}
        templates = mean_templates(sums, np.array([counts[p] for p in identities]), rule)
        samples_idx = np.concatenate([train[p] for p in identities])
        scores = gallery_scores(unit[samples_idx], list(lab[samples_idx]), templates, identities, "mean",
                                sums=sums, identities=identities, rule=rule, counts=counts)
        cal = pick_threshold(scores, fpir, default)
        t = cal.threshold
        stranger_best = similarities(unit[idx[out]], templates, rule).max(axis=1)
        fp = int(np.sum(stranger_best >= t))
        probe_idx = np.concatenate([held[p] for p in identities])
        probe_scores = similarities(unit[probe_idx], templates, rule)
        best = probe_scores.argmax(axis=1)
        found = (np.asarray(identities)[best] == lab[probe_idx]) & (probe_scores.max(axis=1) >= t)
        folds.append({"left_out": out, "threshold": t, "method": cal.method, "claimed_fpir": cal.fpir,
                      "claimed_fpir_upper": cal.fpir_upper, "claimed_fnir": cal.fnir,
                      "impostor_pairs": cal.impostor_pairs, "genuine_pairs": cal.genuine_pairs,
                      "strangers": len(idx[out]), "strangers_matched": fp,
                      "max_stranger_score": round(float(stranger_best.max()), 4),
                      "held_out": len(probe_idx), "held_out_missed": int((~found).sum())})
        strangers += len(idx[out])
        false_pos += fp
        genuine += len(probe_idx)
        missed += int((~found).sum())
    return {"fpir": false_pos / strangers, "false_positives": false_pos, "strangers": strangers,
            "fnir": missed / genuine, "misses": missed, "held_out": genuine,
            "mean_threshold": round(float(np.mean([f["threshold"] for f in folds])), 4), "folds": folds}


def open_set_margins(raw: np.ndarray, labels: list[str], enroll: int) -> dict:
    """Leave-one-identity-out margins under both rules: per fold, (lowest held-out top score
    of an enrolled person - highest stranger score) / impostor std. Larger is safer; below 0
    no threshold separates strangers from the enrolled."""
    lab = np.asarray(labels)
    people = list(dict.fromkeys(labels))
    unit = l2_normalise(raw)
    out = {}
    for rule in ("cosine_normalised", "euclidean_raw"):
        margins = []
        for left in people:
            enrolled = [p for p in people if p != left]
            idx = {p: np.flatnonzero(lab == p) for p in people}
            if rule == "cosine_normalised":
                templates = l2_normalise(np.stack([unit[idx[p][:enroll]].sum(0) for p in enrolled]))

                def score(x, templates=templates):
                    return x @ templates.T
                vectors = unit
            else:  # dlib's rule: Euclidean distance to the mean raw descriptor (negated: higher is closer)
                templates = np.stack([raw[idx[p][:enroll]].mean(0) for p in enrolled])

                def score(x, templates=templates):
                    return -np.linalg.norm(x[:, None, :] - templates[None, :, :], axis=-1)
                vectors = raw
            train = np.concatenate([idx[p][:enroll] for p in enrolled])
            tlab = np.asarray(enrolled)
            s_train = score(vectors[train])
            impostor = s_train[lab[train][:, None] != tlab[None, :]]
            held = np.concatenate([idx[p][enroll:] for p in enrolled])
            s_held = score(vectors[held])
            own = s_held[np.arange(len(held)), [enrolled.index(p) for p in lab[held]]]
            stranger = score(vectors[idx[left]]).max(axis=1)
            margins.append(float((own.min() - stranger.max()) / impostor.std()))
        out[rule] = {"min_margin": round(min(margins), 3), "mean_margin": round(float(np.mean(margins)), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained backbone.keras (default: the reference dlib embedder)")
    parser.add_argument("--enroll", type=int, default=3, help="photos enrolled per person (default 3)")
    parser.add_argument("--fpir", type=float, default=DEFAULT_FPIR, help="FPIR target (default 0.01)")
    parser.add_argument("--faces", default=str(FACES), help="folder with labels.csv")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    files, labels = load_photos(Path(args.faces))
    raw, meta, default = raw_embeddings(files, Path(args.faces), args.model)
    unit = l2_normalise(raw)
    result = {
        "embedder": {k: meta[k] for k in ("name", "dim", "private")},
        "photos": len(files), "people": len(set(labels)), "enroll_per_person": args.enroll,
        "fpir_target": args.fpir, "default_threshold": default,
        "rules": compare_rules(raw, labels),
        "leave_one_identity_out": leave_one_identity_out(unit, labels, args.enroll, args.fpir, default),
    }
    if not args.model:  # dlib's own rule, what new reference galleries use (DlibResNetL2Embedder)
        from inference.engine.embedders import DlibResNetL2Embedder

        result["leave_one_identity_out_euclidean"] = leave_one_identity_out(
            raw * DlibResNetL2Embedder.SCALE, labels, args.enroll, args.fpir, DlibResNetL2Embedder.default_threshold,
            rule="euclidean")
    fixed = {}
    for t in (0.92, default) if default is not None else (0.92,):
        lab = np.asarray(labels)
        fp = n = 0
        for out in dict.fromkeys(labels):
            enrolled = [p for p in dict.fromkeys(labels) if p != out]
            templates = l2_normalise(np.stack([unit[np.flatnonzero(lab == p)[:args.enroll]].sum(0) for p in enrolled]))
            fp += int(np.sum((unit[lab == out] @ templates.T).max(axis=1) >= t))
            n += int(np.sum(lab == out))
        fixed[str(t)] = {"fpir": fp / n, "false_positives": fp, "strangers": n}
    result["fixed_threshold_fpir"] = fixed
    result["open_set_margins"] = open_set_margins(raw, labels, args.enroll)
    result["seconds"] = round(time.perf_counter() - began, 2)
    loio = result["leave_one_identity_out"]
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['embedder']['name']}: {result['photos']} photos of {result['people']} people")
        for rule, r in result["rules"].items():
            if "auc" in r:
                print(f"  {rule}: AUC {r['auc']}, EER {r['eer']}, gap {r['gap']}, d' {r['d_prime']}")
        for rule, m in result["open_set_margins"].items():
            print(f"  {rule}: open-set margin (impostor std) min {m['min_margin']}, mean {m['mean_margin']}")
        for key in ("leave_one_identity_out", "leave_one_identity_out_euclidean"):
            if key in result:
                loio = result[key]
                print(f"  {key} at FPIR target {args.fpir}: FPIR {loio['fpir']:.4f} "
                      f"({loio['false_positives']}/{loio['strangers']}), FNIR {loio['fnir']:.4f} "
                      f"({loio['misses']}/{loio['held_out']}), mean threshold {loio['mean_threshold']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
