"""The ``extract`` command: exit codes, one-line errors, and no heavy imports."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from datasets.engine.cli import add_extract_arguments, run_extract
from privface_core.errors import UserError

from .builders import jpeg, write_im2rec
from .conftest import REPO


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datasets.engine.cli", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def namespace(*args: str | Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_extract_arguments(parser)
    return parser.parse_args([str(a) for a in args])


def test_extracts_rec_and_bin_together(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "webface_tiny"
    out = tmp_path / "out"
    done = cli(
        "--rec_file", src / "train.rec", "--idx_file", src / "train.idx", "--lst_file", src / "train.lst",
        "--bin_file", src / "lfw_tiny.bin", "--output_dir", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "80 images of 10 identities (insightface layout)" in done.stdout
    assert "20 pairs (10 same)" in done.stdout
    assert "100%" in done.stderr  # the progress bar
    assert len(list(out.glob("*/*.jpg"))) == 80
    assert (out / "lfw_tiny" / "pairs.csv").is_file()


def test_quiet_prints_nothing(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "im2rec_plain"
    done = cli("--rec_file", src / "train.rec", "--output_dir", tmp_path / "out", "--quiet")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_bin_alone_goes_to_output_dir(recordio_fixtures: Path, tmp_path: Path) -> None:
    args = namespace("--bin_file", recordio_fixtures / "webface_tiny" / "lfw_tiny.bin", "--output_dir", tmp_path / "o")
    args.quiet = True
    assert run_extract(args) == 0
    assert (tmp_path / "o" / "pairs.csv").is_file()


@pytest.mark.parametrize("kind", ["garbage", "empty", "truncated", "missing"])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, kind: str) -> None:
    rec = tmp_path / "bad.rec"
    if kind == "garbage":
        rec.write_bytes(b"this is not a record file")
    elif kind == "empty":
        rec.write_bytes(b"")
    elif kind == "truncated":
        good, _ = write_im2rec(tmp_path, [(0.0, jpeg()), (1.0, jpeg())])
        rec.write_bytes(good.read_bytes()[:-10])
    done = cli("--rec_file", rec, "--output_dir", tmp_path / "out")
    assert done.returncode == 2
    lines = done.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(rec) in lines[0]
    assert not (tmp_path / "out").exists()


def test_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nothing to extract"):
        run_extract(namespace("--output_dir", tmp_path / "o"))
    with pytest.raises(UserError, match="give --rec_file too"):
        run_extract(namespace("--idx_file", "x.idx", "--bin_file", "x.bin", "--output_dir", tmp_path / "o"))


def test_cli_imports_neither_tensorflow_nor_django(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "webface_tiny"
    code = (
        "import sys\n"
        "from datasets.engine import cli, stream, writer\n"
        f"assert cli.main(['--rec_file', {str(src / 'train.rec')!r}, '--output_dir', {str(tmp_path / 'o')!r},"
        " '--quiet']) == 0\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'django', 'ray'))\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
