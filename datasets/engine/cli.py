"""``extract``: unpack a RecordIO dataset (and/or verification ``.bin`` files) to files.

``run.py extract`` wraps ``add_extract_arguments`` and ``run_extract``; ``python -m
datasets.engine.cli`` runs the same thing standalone. Neither imports TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from datasets.engine.errors import DatasetError
from datasets.engine.evalbin import extract_bin_into
from datasets.engine.extract import extract_rec_into
from datasets.engine.outdir import staging_dir
from datasets.engine.progressbar import ProgressBar
from privface_core.errors import UserError


def add_extract_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``extract`` flags to ``parser``."""
    parser.add_argument("--rec_file", help="RecordIO .rec file (insightface or im2rec layout)")
    parser.add_argument("--idx_file", help=".idx of the .rec: keys come from it (else: file position)")
    parser.add_argument("--lst_file", help=".lst to cross-check against the records (either convention)")
    parser.add_argument("--output_dir", required=True, help="directory to create (or replace an earlier extraction)")
    parser.add_argument(
        "--bin_file",
        action="append",
        help="insightface verification .bin to extract as images + pairs.csv (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary line")


def _bin_dir(root: str, bin_path: str, alone: bool) -> str:
    """Where a .bin goes: the output itself when it is all there is, else its own folder."""
    if alone:
        return root
    name = os.path.splitext(os.path.basename(bin_path))[0]
    target = os.path.join(root, name)
    if name.isdigit() or os.path.exists(target):
        raise DatasetError(f"cannot extract {bin_path} to {target}: the name is already taken")
    os.mkdir(target)
    return target


def run_extract(args: argparse.Namespace) -> int:
    """Run ``extract``; return the exit code. Raises ``UserError`` for bad input."""
    bins = list(args.bin_file or [])
    if args.rec_file is None and not bins:
        raise DatasetError("nothing to extract: give --rec_file and/or --bin_file")
    if args.rec_file is None and (args.idx_file or args.lst_file):
        raise DatasetError("--idx_file and --lst_file describe a .rec: give --rec_file too")
    out = sys.stdout
    bar: ProgressBar | None = None
    try:
        with staging_dir(args.output_dir) as staging:
            if args.rec_file is not None:
                bar = None if args.quiet else ProgressBar(f"extracting {os.path.basename(args.rec_file)}")
                summary = extract_rec_into(
                    staging, args.rec_file, idx_path=args.idx_file, lst_path=args.lst_file, progress=bar
                )
                if not args.quiet:
                    out.write(
                        f"{summary['images']} images of {summary['identities']} identities"
                        f" ({summary['layout']} layout) -> {args.output_dir}\n"
                    )
            alone = args.rec_file is None and len(bins) == 1
            for bin_path in bins:
                name = os.path.basename(bin_path)
                bar = None if args.quiet else ProgressBar(f"extracting {name}", unit="pairs")
                target = _bin_dir(staging, bin_path, alone)
                summary = extract_bin_into(target, bin_path, progress=bar)
                if not args.quiet:
                    shown = os.path.normpath(os.path.join(args.output_dir, os.path.relpath(target, staging)))
                    out.write(f"{summary['pairs']} pairs ({summary['same']} same) -> {shown}\n")
    finally:
        if bar is not None:
            bar.finish()  # an error message must start on its own line
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.engine.cli", description=__doc__.split("\n")[0])
    add_extract_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_extract(args)
    except UserError as err:
        sys.stderr.write(f"error: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; the output directory was left as it was\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
