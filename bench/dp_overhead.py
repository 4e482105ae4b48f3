"""DP-SGD overhead: step time and peak memory of DP versus non-DP training.

    nice .venv/bin/python bench/dp_overhead.py --json            # CPU or GPU, unchanged

MobileFaceNet + ArcFace over 10,572 classes (CASIA-WebFace), batch 64, synthetic images.
Three setups: ``dp`` (GroupNorm model, as DP requires, DP-SGD step), ``nondp`` (the usual
BatchNorm model, plain step) and ``nondp_groupnorm`` (the DP model's architecture without
DP, isolating the cost of the DP step). ``time_ratio``/``memory_ratio`` compare ``dp`` with
``nondp``; the ``*_same_model`` fields compare it with ``nondp_groupnorm``.

Timing: one child process builds all three and times them round-robin, one step each per
round, so load from other processes hits them alike (medians; ``--warmup`` rounds untimed).
On CPU, ``cpu_time_ratio*`` (CPU seconds per step) is steadier still on shared cores.
Memory: each setup runs in its own child, so each peak is its own: the RSS high-water mark
(``ru_maxrss``) on CPU, TensorFlow's allocator peak on GPU. The last output line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPS = ("dp", "nondp", "nondp_groupnorm")


def _device_info() -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    info = {"tensorflow": tf.__version__, "cpu_count": os.cpu_count(), "platform": platform.platform()}
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        info["device"] = f"GPU: {details.get('device_name', gpus[0].name)}"
    else:
        info["device"] = f"CPU: {platform.processor() or platform.machine()} ({os.cpu_count()} cores visible)"
    return info


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _setup(name: str, args: argparse.Namespace):
    """A trainer and one batch for setup ``name``; TensorFlow is imported only in children."""
    import keras
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, str(ROOT))
    from training.engine.dp_sgd import DPConfig
    from training.engine.heads import make_head
    from training.engine.loop import classifier_trainer
    from training.engine.models import build_backbone

    keras.utils.set_random_seed(0)
    backbone = build_backbone(args.backbone, dp=name != "nondp")  # dp=True: GroupNorm
    head = make_head(args.head, args.num_classes)
    head.build((None, backbone.output_shape[-1]))
    dp = DPConfig(args.l2_norm_clip, args.noise_multiplier, args.batch_size) if name == "dp" else None
    trainer = classifier_trainer(backbone, head, keras.optimizers.SGD(0.1, momentum=0.9), dp=dp, seed=0)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(args.batch_size, 112, 112, 3)).astype("float32")
    labels = rng.integers(0, args.num_classes, size=args.batch_size)
    return trainer, tf.constant(images), tf.constant(labels)


def _start_child() -> list:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(gpu, True)
    return gpus


def time_child(args: argparse.Namespace) -> dict:
    import numpy as np

    _start_child()
    setups = {name: _setup(name, args) for name in SETUPS}
    wall: dict[str, list[float]] = {name: [] for name in SETUPS}
    cpu: dict[str, list[float]] = {name: [] for name in SETUPS}
    for round_ in range(args.warmup + args.steps):
        for name, (trainer, images, labels) in setups.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            trainer.train_step(images, labels)  # returns host floats: the step has finished
            if round_ >= args.warmup:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - cpu_start)
    result = {
        name: {"step_s": float(np.median(wall[name])), "step_cpu_s": float(np.median(cpu[name]))} for name in SETUPS
    }
    result.update(_device_info())
    return result


def memory_child(args: argparse.Namespace, name: str) -> dict:
    import tensorflow as tf

    gpus = _start_child()
    trainer, images, labels = _setup(name, args)
    for _ in range(2):  # the first traces; peaks settle by the second
        trainer.train_step(images, labels)
    if gpus:
        return {"peak_mb": tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20}
    return {"peak_mb": _rss_mb()}


def _ratios(dp: dict, base: dict, peaks: dict, base_name: str, batch: int, suffix: str, on_gpu: bool) -> dict:
    out = {
        f"nondp_step_s{suffix}": base["step_s"],
        f"time_ratio{suffix}": dp["step_s"] / base["step_s"],
        f"nondp_peak_mb{suffix}": peaks[base_name],
        f"memory_ratio{suffix}": peaks["dp"] / peaks[base_name],
        f"images_per_s_nondp{suffix}": batch / base["step_s"],
    }
    if not on_gpu:
        out[f"nondp_step_cpu_s{suffix}"] = base["step_cpu_s"]
        out[f"cpu_time_ratio{suffix}"] = dp["step_cpu_s"] / base["step_cpu_s"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per setup")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per setup first (tracing)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--num_classes", type=int, default=10572)
    parser.add_argument("--backbone", default="mobilefacenet")
    parser.add_argument("--head", default="arcface")
    parser.add_argument("--l2_norm_clip", type=float, default=1.0)
    parser.add_argument("--noise_multiplier", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="only the JSON result on stdout")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # "time" or "memory:<setup>"
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be at least 1")
    if args.child == "time":
        print(json.dumps(time_child(args)))
        return 0
    if args.child:
        print(json.dumps(memory_child(args, args.child.removeprefix("memory:"))))
        return 0

    passthrough = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--json"]

    def child(kind: str) -> dict | None:
        # One child at a time: never two heavy processes at once.
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *passthrough, "--child", kind],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            return None
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if not args.json:
            print(f"{kind}: {result}", flush=True)
        return result

    times = child("time")
    peaks = {}
    for name in SETUPS:
        memory = child(f"memory:{name}")
        if times is None or memory is None:
            return 1
        peaks[name] = memory["peak_mb"]
    on_gpu = times["device"].startswith("GPU")
    dp = times["dp"]
    summary = {
        "dp_step_s": dp["step_s"],
        **_ratios(dp, times["nondp"], peaks, "nondp", args.batch_size, "", on_gpu),
        "dp_peak_mb": peaks["dp"],
        "images_per_s_dp": args.batch_size / dp["step_s"],
        **_ratios(dp, times["nondp_groupnorm"], peaks, "nondp_groupnorm", args.batch_size, "_same_model", on_gpu),
        "memory_measure": "TensorFlow GPU allocator peak" if on_gpu else "process peak RSS (ru_maxrss)",
        "device": times["device"],
        "tensorflow": times["tensorflow"],
        "cpu_count": times["cpu_count"],
        "batch_size": args.batch_size,
        "num_classes": args.num_classes,
        "backbone": args.backbone,
        "head": args.head,
        "steps": args.steps,
        "warmup": args.warmup,
    }
    if not on_gpu:
        summary["dp_step_cpu_s"] = dp["step_cpu_s"]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
