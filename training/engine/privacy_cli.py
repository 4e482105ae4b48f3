"""``run.py privacy``: epsilon of a DP-SGD plan, or the noise needed for a target epsilon.

The values are checked by ``dp_params`` (as for the API and the configs) before the
accountant loads, so a bad one is at once a one-line ``UserError`` naming the flag.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from privface_core.errors import UserError
from training.engine import dp_params


def add_privacy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--num_examples", type=int, required=True, help="training set size N")
    parser.add_argument("--batch_size", type=int, required=True, help="expected batch size B (q = B/N)")
    parser.add_argument("--epochs", type=float, required=True, help="passes over the data (steps = ceil(E*N/B))")
    noise = parser.add_mutually_exclusive_group(required=True)
    noise.add_argument("--noise_multiplier", type=float, help="noise std / clipping norm; prints epsilon")
    noise.add_argument("--target_epsilon", type=float, help="prints the noise multiplier that reaches it")
    parser.add_argument("--delta", type=float, required=True, help="target delta, usually < 1/N")
    parser.add_argument("--accountant", choices=dp_params.ACCOUNTANTS, default="rdp", help="RDP (default) or PLD")
    parser.add_argument("--json", action="store_true", help="last line of output is a JSON object")


def run_privacy(args: argparse.Namespace) -> int:
    dp_params.check_estimate(args.num_examples, args.batch_size, args.epochs, args.delta, args.accountant,
                             args.noise_multiplier, args.target_epsilon)
    # Imported here so `run.py --help` stays fast (dp-accounting pulls in scipy).
    from training.engine import accounting

    try:
        result = accounting.estimate(args.num_examples, args.batch_size, args.epochs, args.delta, args.accountant,
                                     args.noise_multiplier, args.target_epsilon)
    except accounting.UnreliableEpsilon as err:
        raise UserError(str(err)) from None
    except ValueError as err:  # no noise up to the accountant's limit reaches the target
        raise UserError(f"--target_epsilon: {err}") from None
    result.update(batch_size=args.batch_size, epochs=args.epochs)
    noise, epsilon = result["noise_multiplier"], result["epsilon"]
    shown = epsilon if epsilon is not None else math.inf
    if args.target_epsilon is not None:
        result["target_epsilon"] = args.target_epsilon
        print(f"noise multiplier {noise:.6g} gives epsilon {shown:.4g} at delta {args.delta:g} ({args.accountant})")
    else:
        acc = accounting.PrivacyAccountant(args.accountant)
        acc.step(noise, result["sample_rate"], result["steps"])
        order = acc.get_optimal_order(args.delta)
        if order is not None and epsilon is not None:
            result["optimal_order"] = order
        print(
            f"DP-SGD with sample rate {result['sample_rate']:.4g} for {result['steps']} steps, noise multiplier"
            f" {noise:g}: epsilon {shown:.4g} at delta {args.delta:g} ({args.accountant})"
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
