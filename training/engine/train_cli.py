"""``run.py train``: centralized training with or without DP-SGD, one line per epoch.

Nothing heavy is imported at module level: ``run.py train -h`` must not load TensorFlow.
Numbers and choices are parsed here rather than by argparse, so every bad value becomes a
one-line ``UserError`` that names its flag (exit code 2), as in ``run.py privacy``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from privface_core.errors import UserError
from training.engine.config import (
    ACCOUNTANTS,
    BACKBONES,
    HEADS,
    LR_SCHEDULES,
    OPTIMIZERS,
    TrainConfig,
)

_INTS = ("epochs", "batch_size", "embedding_size", "image_size", "seed", "decode_threads")
_FLOATS = ("target_epsilon", "noise_multiplier", "l2_norm_clip", "delta", "lr", "momentum", "weight_decay",
           "warmup_epochs", "holdout_fraction")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    data = parser.add_argument_group("data (an extracted folder, or a .rec with its .idx)")
    data.add_argument("--dataset_path", metavar="DIR", help="extracted dataset: <label>/<key>.jpg + manifest.jsonl")
    data.add_argument("--rec_file", metavar="REC", help="RecordIO file (insightface or im2rec layout)")
    data.add_argument("--idx_file", metavar="IDX", help="its index (needed: batches read records by offset)")
    data.add_argument("--eval_bin", metavar="BIN", help="verification pairs, e.g. lfw.bin: 10-fold accuracy per epoch")
    data.add_argument("--image_size", metavar="N", default=str(defaults.image_size), help="model input side (112)")
    data.add_argument("--holdout_fraction", metavar="F", default=str(defaults.holdout_fraction),
                      help="per identity, held out of training for the membership audit (0.1)")
    data.add_argument("--dataset_name", help="name for the model card (default: folder or .rec name)")
    data.add_argument("--no_flip", action="store_true", help="no random horizontal flips")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=defaults.model, help=f"{' | '.join(BACKBONES)} ({defaults.model})")
    model.add_argument("--head", default=defaults.head, help=f"{' | '.join(HEADS)} ({defaults.head})")
    model.add_argument("--embedding_size", metavar="D", default=str(defaults.embedding_size), help="(512)")
    opt = parser.add_argument_group("optimisation")
    opt.add_argument("--epochs", metavar="N", default=str(defaults.epochs), help=f"({defaults.epochs})")
    opt.add_argument("--batch_size", metavar="B", default=str(defaults.batch_size),
                     help=f"batch size; with DP the expected Poisson batch size ({defaults.batch_size})")
    opt.add_argument("--optimizer", default=defaults.optimizer, help=f"{' | '.join(OPTIMIZERS)} ({defaults.optimizer})")
    opt.add_argument("--lr", metavar="LR", default=str(defaults.lr), help=f"peak learning rate ({defaults.lr})")
    opt.add_argument("--lr_schedule", default=defaults.lr_schedule,
                     help=f"{' | '.join(LR_SCHEDULES)} ({defaults.lr_schedule})")
    opt.add_argument("--lr_steps", metavar="E,E", default="", help="step schedule: epochs where the LR drops 10x")
    opt.add_argument("--warmup_epochs", metavar="E", default=str(defaults.warmup_epochs), help="linear warmup (0)")
    opt.add_argument("--momentum", metavar="M", default=str(defaults.momentum), help="SGD momentum / Adam beta_1")
    opt.add_argument("--weight_decay", metavar="W", default=str(defaults.weight_decay), help="(5e-4)")
    dp = parser.add_argument_group("differential privacy")
    dp.add_argument("--use_dp", action="store_true", help="train with DP-SGD (Poisson sampling, clipping, noise)")
    dp.add_argument("--target_epsilon", metavar="E", help="calibrate the noise to spend at most this epsilon")
    dp.add_argument("--noise_multiplier", metavar="Z", help="noise std / clipping norm (instead of a target)")
    dp.add_argument("--l2_norm_clip", metavar="C", default=str(defaults.l2_norm_clip), help="per-example clip (1.0)")
    dp.add_argument("--delta", metavar="D", default=str(defaults.delta), help="target delta, below 1/N (1e-5)")
    dp.add_argument("--accountant", default=defaults.accountant, help=f"{' | '.join(ACCOUNTANTS)} (rdp)")
    run = parser.add_argument_group("run")
    run.add_argument("--output_dir", metavar="OUT", default=defaults.output_dir,
                     help="checkpoint, metrics.jsonl and export/ go here")
    run.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output_dir")
    run.add_argument("--seed", metavar="S", help="fixes batches, flips and initial weights (default: random)")
    run.add_argument(
        "--decode_threads", metavar="T", default=str(defaults.decode_threads), help="batches decoded at once (0: auto)"
    )
    run.add_argument("--json", action="store_true", help="last line of output is the result as JSON")


def parse_number(args: argparse.Namespace, name: str, kind: type) -> Any:
    """Flag ``name`` as ``kind`` (None when not given); a bad value is a one-line UserError naming it."""
    raw = getattr(args, name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        wording = "a whole number" if kind is int else "a number"
        raise UserError(f"--{name} must be {wording}, got {raw!r}") from None
    if kind is float and not math.isfinite(value):
        raise UserError(f"--{name} must be a finite number, got {raw!r}")
    return value


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if args.target_epsilon is not None and args.noise_multiplier is not None:
        raise UserError("--target_epsilon and --noise_multiplier exclude each other: give one")
    values: dict[str, Any] = {name: parse_number(args, name, int) for name in _INTS}
    values.update({name: parse_number(args, name, float) for name in _FLOATS})
    try:
        steps = tuple(int(e) for e in args.lr_steps.split(",") if e.strip())
    except ValueError:
        raise UserError(f"--lr_steps must be comma-separated whole epochs, got {args.lr_steps!r}") from None
    config = TrainConfig(
        dataset_path=args.dataset_path,
        rec_file=args.rec_file,
        idx_file=args.idx_file,
        eval_bin=args.eval_bin,
        dataset_name=args.dataset_name,
        flip=not args.no_flip,
        model=args.model,
        head=args.head,
        optimizer=args.optimizer,
        lr_schedule=args.lr_schedule,
        lr_steps=steps,
        use_dp=args.use_dp,
        accountant=args.accountant,
        output_dir=args.output_dir,
        resume=args.resume,
        **values,
    )
    config.validate()
    return config


def _format(value: float | None, digits: str = ".4f") -> str:
    return "-" if value is None else format(value, digits)


def epoch_line(epoch: int, epochs: int, metrics: dict[str, Any]) -> str:
    parts = [f"epoch {epoch}/{epochs} (step {metrics['step']})", f"loss {_format(metrics.get('loss'))}"]
    parts.append(f"accuracy {_format(metrics.get('train_accuracy'), '.3f')}")
    if "holdout_accuracy" in metrics:
        parts.append(f"holdout {_format(metrics['holdout_accuracy'], '.3f')}")
    if "verification" in metrics:
        v = metrics["verification"]
        parts.append(f"verification {v['accuracy']:.4f}±{v['accuracy_std']:.4f}")
    if "epsilon" in metrics:
        eps = metrics["epsilon"]
        parts.append(f"epsilon {'inf' if eps is None else format(eps, '.3f')} (delta {metrics['delta']:g})")
    return ", ".join(parts)


def run_train(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # before TensorFlow loads: bad flags fail in a blink
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from training.engine.trainer import Callbacks, train

    class Printer(Callbacks):
        def on_epoch(self, epoch: int, metrics: dict[str, Any]) -> None:
            print(epoch_line(epoch, config.epochs, metrics), flush=True)

    result = train(config, Printer())
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.stopped == "privacy_budget":
        print(f"stopped after {result.steps} of {result.total_steps} steps: the next would exceed --target_epsilon")
    if result.epsilon is not None:
        eps = "inf" if not math.isfinite(result.epsilon) else f"{result.epsilon:.4g}"
        print(f"DP-SGD: epsilon {eps} at delta {result.delta:g} ({config.accountant}),"
              f" noise multiplier {result.noise_multiplier:.4g}, {result.steps} steps")
    if result.membership_inference is not None:
        print(f"membership inference (loss threshold): AUC {result.membership_inference['auc']:.3f}")
    print(f"exported to {result.export_dir}")
    if args.json:
        print(json.dumps({k: v for k, v in result.to_dict().items() if k != "model_card"}))
    return 0
