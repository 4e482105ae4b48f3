#!/usr/bin/env python
"""PrivFace command line: `python run.py <command> [flags]`, `python run.py <command> -h`.

Only the chosen command's module is imported, so `extract` and `webapp` start without
loading TensorFlow, Ray or TenSEAL.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# command: (help, module, add-arguments function, run function, issue that brings it)
COMMANDS: dict[str, tuple[str, str, str, str, str]] = {
    "extract": ("extract a RecordIO dataset or an evaluation .bin to image files",
                "datasets.engine.cli", "add_extract_arguments", "run_extract", "datasets"),
    "train": ("train a face model, optionally with DP-SGD",
              "training.engine.train_cli", "add_train_arguments", "run_train", "DP training"),
    "privacy": ("compute epsilon for DP-SGD parameters, or the noise for a target epsilon",
                "training.engine.privacy_cli", "add_privacy_arguments", "run_privacy", "DP training"),
    "federated": ("run federated learning across simulated clients (Flower)",
                  "federation.engine.cli", "add_federated_arguments", "run_federated", "federated learning"),
    "enroll": ("build a gallery of face templates",
               "inference.engine.cli", "add_enroll_arguments", "run_enroll", "encrypted search"),
    "inference": ("search a face in a gallery under homomorphic encryption",
                  "inference.engine.cli", "add_inference_arguments", "run_inference", "encrypted search"),
    "webapp": ("start the web app: migrations, Redis if needed, Celery worker and Daphne",
               "privface_site.launcher", "add_webapp_arguments", "run_webapp", "foundation"),
    "createuser": ("create a user (or reset their password) and print their API token",
                   "privface_site.launcher", "add_createuser_arguments", "run_createuser", "foundation"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (help_text, *_rest) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        parser = _top_parser()
        if argv and not argv[0].startswith("-"):
            parser.print_usage(sys.stderr)
            print(f"run.py: error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        parser.parse_args(argv)  # prints help for -h, usage otherwise
        parser.print_help()
        return 0
    name, rest = argv[0], argv[1:]
    help_text, module_name, add_name, run_name, issue = COMMANDS[name]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privface_site.settings")
    module = importlib.import_module(module_name) if importlib.util.find_spec(module_name) else None
    if module is None or not hasattr(module, run_name):
        print(f"run.py {name}: not yet available (arrives with the {issue} work)", file=sys.stderr)
        return 2
    add_arguments, run = getattr(module, add_name), getattr(module, run_name)
    parser = argparse.ArgumentParser(prog=f"run.py {name}", description=help_text)
    add_arguments(parser)
    args = parser.parse_args(rest)

    from privface_core.errors import UserError

    try:
        return int(run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
