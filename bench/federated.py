"""Federated learning: seconds per round, Flower's overhead, the accuracy gap, memory per client.

    nice .venv/bin/python bench/federated.py --json                      # everything
    nice .venv/bin/python bench/federated.py --parts rounds,overhead     # a subset

- ``rounds``: seconds per round for 2, 4 and 8 simulated clients on a generated dataset (identities
  of synthetic faces, ``--images_per_client`` each), median over the rounds after the first (the
  first compiles the model in every Ray worker), and the peak RSS of the client processes.
- ``overhead``: Flower's overhead at ``--overhead_clients`` clients: the round time over the time of
  the same local training of all clients run one after another in one process without Flower
  (same model, data, steps; compiled once, as Ray's workers are after round 1). Goal: <= 1.3.
- ``gap``: verification accuracy on webface_tiny's lfw_tiny.bin after centralized training and
  after federated training at equal total local epochs, for ``iid`` and ``by_identity``.

Everything runs in child processes (one per federated run, as the job does). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WEBFACE = ROOT.parent / "shared" / "fixtures" / "recordio" / "webface_tiny"
MODEL = dict(image_size=56, embedding_size=64, batch_size=16, head_type="softmax", optimizer="adam", lr=1e-3)


def make_faces(folder: Path, identities: int, per_identity: int, size: int = 56, seed: int = 0) -> Path:
    """Synthetic faces: each identity a smooth random pattern, each image jittered and noised."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for identity in range(identities):
        base = cv2.resize(rng.integers(0, 256, (7, 7, 3)).astype(np.uint8), (size, size),
                          interpolation=cv2.INTER_CUBIC)
        target = folder / str(identity)
        target.mkdir(parents=True, exist_ok=True)
        for n in range(per_identity):
            shift = rng.integers(-3, 4, 2)
            image = np.roll(base, tuple(shift), axis=(0, 1)).astype(np.int16) + rng.normal(0, 12, base.shape)
            cv2.imwrite(str(target / f"{n}.jpg"), np.clip(image, 0, 255).astype(np.uint8))
    return folder


class PeakRss(threading.Thread):
    """Samples the RSS of the Ray client processes (``ray::ClientAppActor``) while a run goes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb, self.stop = 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    if b"ClientAppActor" not in (proc / "cmdline").read_bytes():
                        continue
                    for line in (proc / "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
                except OSError:
                    pass
            self.stop.wait(0.5)


def federated_run(out: Path, clients: int, rounds: int, **overrides) -> dict:
    from federation.engine.config import FederatedConfig
    from federation.engine.runner import run

    values = dict(MODEL, num_clients=clients, num_rounds=rounds, seed=1, output_dir=str(out))
    values.update(overrides)
    events: list[dict] = []
    monitor = PeakRss()
    monitor.start()
    started = time.monotonic()
    result = run(FederatedConfig(**values), events.append)
    monitor.stop.set()
    monitor.join()
    round_seconds = [e["seconds"] for e in events if e["type"] == "round"]
    return {"clients": clients, "rounds": rounds, "round_seconds": round_seconds,
            "seconds_per_round": statistics.median(round_seconds[1:]) if len(round_seconds) > 1 else round_seconds[0],
            "first_round_seconds": round_seconds[0], "wall_seconds": round(time.monotonic() - started, 2),
            "peak_client_process_rss_mb": round(monitor.peak_mb, 1), "result": {
                k: v for k, v in result.items() if k in ("verification_accuracy", "rounds_completed", "held_accuracy")}}


def sequential_round(data_dir: Path, clients: int, repeats: int) -> dict:
    """The same local training without Flower: one process, clients one after another."""
    import numpy as np

    from federation.engine.config import FederatedConfig
    from federation.engine.plan import make_plan, partition_data
    from federation.engine.server_app import client_settings
    from federation.engine.task import LocalModel

    with tempfile.TemporaryDirectory() as tmp:
        config = FederatedConfig(data_dir=str(data_dir), num_clients=clients, seed=1, output_dir=tmp, **MODEL)
        plan = make_plan(config, Path(tmp), 1)
        settings = client_settings(config, Path(tmp), "bench", None, 1)
        settings["head_classes"] = max(c["identities"] for c in plan["clients"])
        data = [partition_data(Path(tmp), pid, settings) for pid in range(clients)]
        model = LocalModel(settings, settings["head_classes"], 1)
        start_weights = model.backbone_arrays()
        times = []
        for repeat in range(repeats + 1):  # the first pass compiles, as Flower's round 1 does
            started = time.monotonic()
            updates = []
            for pid, client in enumerate(data):
                model.attach(client)
                model.load({**start_weights, **model.initial_head})
                model.fit(1, np.random.default_rng([repeat, pid]))
                updates.append(model.backbone_arrays())
            _ = {k: np.mean([u[k] for u in updates], axis=0) for k in start_weights}  # the FedAvg step
            if repeat:
                times.append(time.monotonic() - started)
        return {"clients": clients, "seconds_per_round": statistics.median(times), "round_seconds": times}


def centralized_accuracy(epochs: int, out: Path) -> float | None:
    from training.engine.config import TrainConfig
    from training.engine.trainer import train

    config = TrainConfig(rec_file=str(WEBFACE / "train.rec"), idx_file=str(WEBFACE / "train.idx"),
                         eval_bin=str(WEBFACE / "lfw_tiny.bin"), model="mobilefacenet", head="softmax",
                         epochs=epochs, output_dir=str(out), seed=1, use_dp=False, optimizer="adam", lr=1e-3,
                         image_size=56, embedding_size=64, batch_size=16, lr_schedule="constant")
    # GroupNorm, as every federated model: compare like with like.
    from training.engine.models import build_backbone

    result = train(config, backbone_factory=lambda name, dim, dp, size: build_backbone(name, dim, True, size))
    return (result.verification or {}).get("accuracy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="rounds,overhead,gap")
    parser.add_argument("--clients", default="2,4,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images_per_client", type=int, default=64)
    parser.add_argument("--overhead_clients", type=int, default=4)
    parser.add_argument("--gap_rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    report: dict = {"machine": {"cpus": os.cpu_count()}, "model": MODEL}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        def faces(k: int) -> Path:  # 4 identities per client, the same images per client at every k
            folder = root / f"faces-{k}"
            return folder if folder.is_dir() else make_faces(folder, 4 * k, args.images_per_client // 4)

        if "rounds" in parts:
            report["rounds"] = [federated_run(root / f"r{k}", int(k), args.rounds, data_dir=str(faces(int(k))))
                                for k in args.clients.split(",")]
        if "overhead" in parts:
            k = args.overhead_clients
            flower = next((r for r in report.get("rounds", []) if r["clients"] == k), None) or federated_run(
                root / "overhead", k, args.rounds, data_dir=str(faces(k)))
            baseline = sequential_round(faces(k), k, max(1, args.rounds - 1))
            report["overhead"] = {"clients": k, "flower_seconds_per_round": flower["seconds_per_round"],
                                  "sequential_seconds_per_round": baseline["seconds_per_round"],
                                  "ratio": flower["seconds_per_round"] / baseline["seconds_per_round"],
                                  "goal": 1.3}
        if "gap" in parts:
            gap = {"centralized": centralized_accuracy(args.gap_rounds, root / "central")}
            for method in ("iid", "by_identity"):
                run = federated_run(root / f"gap-{method}", 3, args.gap_rounds, partition=method,
                                    rec_file=str(WEBFACE / "train.rec"), idx_file=str(WEBFACE / "train.idx"),
                                    eval_bin=str(WEBFACE / "lfw_tiny.bin"), batch_size=8)
                gap[method] = run["result"]["verification_accuracy"]
            gap["note"] = (f"{args.gap_rounds} epochs centralized vs {args.gap_rounds} rounds x 1 local epoch,"
                           " 3 clients; lfw_tiny has 20 pairs (one pair = 0.05)")
            report["gap"] = gap
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
