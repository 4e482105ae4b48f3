"""Training input: tf.data pipeline throughput, and whether the training step ever waits on it.

    nice .venv/bin/python bench/input_pipeline.py --json

Generates an insightface-layout ``.rec`` of ``--images`` 112x112 face JPEGs (the
webface_tiny fixture's, made distinct), then, all in one process:

1. input alone, one epoch of Poisson batches (expected size ``--batch_size``) read from the
   ``.rec``, decoded, flipped, normalised: ``tf.data`` (``training.engine.tf_input``) with
   1 and 2 parallel decodes, against the baseline of decoding each batch with OpenCV on the
   training thread when it is needed (``ImageFetcher``, no overlap);
2. with ``--steps N``: a DP-SGD step (MobileFaceNet + ArcFace) fed by the tf.data pipeline,
   against the same step on one batch already in memory; ``stall_ratio`` (fed / in memory
   step time) is 1.0 when the step never waits for input. On a CPU the decoding competes
   with the step for the same cores, so this is an upper bound of what a GPU sees.

The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _epoch(source, subset, labels, batch_size: int, seed: int):
    import numpy as np

    from training.engine.sampling import poisson_batches

    rng = np.random.default_rng(seed)
    steps = int(np.ceil(len(subset) / batch_size))
    return list(poisson_batches(len(subset), batch_size / len(subset), steps, rng))


def input_only(source, labels, batch_size: int, rounds: int) -> dict:
    import numpy as np

    from training.engine.pipeline import ImageFetcher
    from training.engine.tf_input import TrainingInput

    subset = np.arange(len(labels))
    fetcher = ImageFetcher(source, subset, labels, 112)
    setups = {
        "opencv_inline": lambda batches, rng: (fetcher(b, rng) for b in batches),
        "tfdata_1": lambda batches, rng: TrainingInput(source, subset, labels, 112, batches, rng, 1, 2),
        "tfdata_2": lambda batches, rng: TrainingInput(source, subset, labels, 112, batches, rng, 2, 2),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    for round_ in range(rounds + 1):  # round 0 warms up (tracing, page cache)
        batches = _epoch(source, subset, labels, batch_size, round_)
        images = sum(len(b) for b in batches)
        for name, make in setups.items():
            start = time.perf_counter()
            for x, _ in make(batches, np.random.default_rng(round_)):
                np.asarray(x)  # materialised on the host, as the step would take it
            if round_:
                times[name].append(images / (time.perf_counter() - start))
    out = {f"{name}_images_per_s": statistics.median(v) for name, v in times.items()}
    out["speedup_tfdata_2"] = out["tfdata_2_images_per_s"] / out["opencv_inline_images_per_s"]
    return out


def with_step(source, labels, batch_size: int, steps: int, decode_threads: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from training.engine.dp_sgd import DPConfig
    from training.engine.heads import make_head
    from training.engine.loop import classifier_trainer
    from training.engine.models import build_backbone
    from training.engine.sampling import poisson_batches
    from training.engine.tf_input import TrainingInput

    keras.utils.set_random_seed(0)
    backbone = build_backbone("mobilefacenet", dp=True)
    head = make_head("arcface", int(labels.max()) + 1)
    head.build((None, backbone.output_shape[-1]))
    trainer = classifier_trainer(
        backbone, head, keras.optimizers.SGD(0.01, momentum=0.9), DPConfig(1.0, 1.0, batch_size), seed=0
    )
    subset = np.arange(len(labels))
    rng = np.random.default_rng(1)
    batches = list(poisson_batches(len(subset), batch_size / len(subset), steps + 2, rng))
    fixed = np.arange(batch_size)
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch_size, 112, 112, 3)).astype("float32"))
    fixed_labels = tf.constant(labels[fixed])
    for _ in range(2):  # trace for the fixed size; Poisson sizes retrace once (reduce_retracing)
        trainer.train_step(images, fixed_labels)
    memory, fed = [], []
    feed = iter(TrainingInput(source, subset, labels, 112, batches, np.random.default_rng(2), decode_threads, 2))
    for _ in range(2):
        x, y = next(feed)
        trainer.train_step(x, y)
    count = 0
    for step in range(steps):
        start = time.perf_counter()
        trainer.train_step(images, fixed_labels)
        memory.append((time.perf_counter() - start) / batch_size)
        start = time.perf_counter()
        x, y = next(feed)  # the wait for input counts: it is what the step would lose
        trainer.train_step(x, y)
        fed.append((time.perf_counter() - start) / max(len(y), 1))
        count += len(y)
        del step
    per_image_memory, per_image_fed = statistics.median(memory), statistics.median(fed)
    return {
        "step_images_per_s_in_memory": 1 / per_image_memory,
        "step_images_per_s_fed": 1 / per_image_fed,
        "stall_ratio": per_image_fed / per_image_memory,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--identities", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs of input per setup")
    parser.add_argument("--steps", type=int, default=6, help="timed training steps (0: input only)")
    parser.add_argument("--decode_threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import tensorflow as tf
    from recordio_extract import _default_pool_rec, generate

    from training.engine.data import LabelMap, RecordSource

    with tempfile.TemporaryDirectory(prefix="pf-input-bench-") as tmp:
        rec, idx = Path(tmp) / "train.rec", Path(tmp) / "train.idx"
        generate(rec, idx, args.images, args.identities, 0, _default_pool_rec())
        source = RecordSource(rec, idx)
        labels = LabelMap.fit(source.raw_labels).encode(source.raw_labels)
        result: dict = {"images": args.images, "batch_size": args.batch_size, "cpu_count": os.cpu_count()}
        result["device"] = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
        result.update(input_only(source, labels, args.batch_size, args.rounds))
        if args.steps:
            result.update(with_step(source, labels, args.batch_size, args.steps, args.decode_threads))
        source.close()
    result = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    if not args.json:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
