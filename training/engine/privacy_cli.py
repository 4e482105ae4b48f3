"""``run.py privacy``: epsilon of a DP-SGD plan, or the noise needed for a target epsilon.

Validation happens here, where the flag names are known, so a bad value becomes a one-line
``UserError`` naming the flag; ``accounting`` itself raises ``ValueError``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from privface_core.errors import UserError


def add_privacy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num_examples", type=int, required=True, help="training set size N")
    parser.add_argument("--batch_size", type=int, required=True, help="expected batch size B (q = B/N)")
    parser.add_argument("--epochs", type=float, required=True, help="passes over the data (steps = ceil(E*N/B))")
    noise = parser.add_mutually_exclusive_group(required=True)
    noise.add_argument("--noise_multiplier", type=float, help="noise std / clipping norm; prints epsilon")
    noise.add_argument("--target_epsilon", type=float, help="prints the noise multiplier that reaches it")
    parser.add_argument("--delta", type=float, required=True, help="target delta, usually < 1/N")
    parser.add_argument("--accountant", choices=("rdp", "pld"), default="rdp", help="RDP (default) or PLD")
    parser.add_argument("--json", action="store_true", help="last line of output is a JSON object")


def _validate(args: argparse.Namespace) -> None:
    if args.num_examples < 1:
        raise UserError(f"--num_examples must be at least 1, got {args.num_examples}")
    if not 1 <= args.batch_size <= args.num_examples:
        raise UserError(
            f"--batch_size must be between 1 and --num_examples ({args.num_examples}), got {args.batch_size}"
        )
    if not (math.isfinite(args.epochs) and args.epochs > 0):
        raise UserError(f"--epochs must be a positive number, got {args.epochs}")
    if not (math.isfinite(args.delta) and 0 < args.delta < 1):
        raise UserError(f"--delta must be between 0 and 1 (exclusive), got {args.delta}")
    if args.noise_multiplier is not None and not (math.isfinite(args.noise_multiplier) and args.noise_multiplier >= 0):
        raise UserError(f"--noise_multiplier must be a number >= 0, got {args.noise_multiplier}")
    if args.target_epsilon is not None and not (math.isfinite(args.target_epsilon) and args.target_epsilon > 0):
        raise UserError(f"--target_epsilon must be a positive number, got {args.target_epsilon}")


def run_privacy(args: argparse.Namespace) -> int:
    _validate(args)
    # Imported here so `run.py --help` stays fast (dp-accounting pulls in scipy).
    from training.engine import accounting

    plan = accounting.TrainingPlan(args.num_examples, args.batch_size, args.epochs)
    if args.target_epsilon is not None:
        try:
            noise = accounting.calibrate_noise(
                args.target_epsilon, plan.num_examples, plan.batch_size, plan.epochs, args.delta, args.accountant
            )
        except ValueError as err:
            raise UserError(f"--target_epsilon: {err}") from None
    else:
        noise = args.noise_multiplier
    acc = accounting.PrivacyAccountant(args.accountant)
    acc.step(noise, plan.sample_rate, plan.steps)
    epsilon = acc.get_epsilon(args.delta)
    result = {
        "epsilon": epsilon if math.isfinite(epsilon) else None,  # JSON has no infinity
        "delta": args.delta,
        "noise_multiplier": noise,
        "accountant": args.accountant,
        "sample_rate": plan.sample_rate,
        "steps": plan.steps,
        "num_examples": plan.num_examples,
        "batch_size": plan.batch_size,
        "epochs": plan.epochs,
    }
    if args.target_epsilon is not None:
        result["target_epsilon"] = args.target_epsilon
        print(f"noise multiplier {noise:.6g} gives epsilon {epsilon:.4g} at delta {args.delta:g} ({args.accountant})")
    else:
        order = acc.get_optimal_order(args.delta)
        if order is not None and math.isfinite(epsilon):
            result["optimal_order"] = order
        print(
            f"DP-SGD with sample rate {plan.sample_rate:.4g} for {plan.steps} steps, noise multiplier {noise:g}:"
            f" epsilon {epsilon:.4g} at delta {args.delta:g} ({args.accountant})"
        )
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="privacy", description=__doc__.splitlines()[0])
    add_privacy_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_privacy(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
