"""`run.py privacy`: JSON output and one-line errors naming the flag."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from privface_core.errors import UserError
from training.engine import accounting
from training.engine.privacy_cli import add_privacy_arguments, run_privacy

ROOT = Path(__file__).resolve().parents[2]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_privacy_arguments(parser)
    return parser.parse_args(list(argv))


BASE = ("--num_examples", "60000", "--batch_size", "256", "--epochs", "60", "--delta", "1e-5")


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_epsilon_json(capsys):
    assert run_privacy(parse(*BASE, "--noise_multiplier", "1.1", "--json")) == 0
    out = last_json(capsys)
    assert out["epsilon"] == pytest.approx(accounting.compute_epsilon(60000, 256, 60, 1.1, 1e-5))
    assert out["steps"] == 14063 and out["accountant"] == "rdp"


def test_epsilon_text_without_json(capsys):
    assert run_privacy(parse(*BASE, "--noise_multiplier", "1.1")) == 0
    assert "epsilon 2.597" in capsys.readouterr().out


def test_target_epsilon_json(capsys):
    assert run_privacy(parse(*BASE, "--target_epsilon", "3", "--json")) == 0
    out = last_json(capsys)
    assert 2.97 <= out["epsilon"] <= 3.0
    assert out["epsilon"] == pytest.approx(accounting.compute_epsilon(60000, 256, 60, out["noise_multiplier"], 1e-5))


@pytest.mark.parametrize(
    "argv,flag",
    [
        ("--num_examples 0 --batch_size 1 --epochs 1 --delta 1e-5 --noise_multiplier 1".split(), "--num_examples"),
        ("--num_examples 10 --batch_size 20 --epochs 1 --delta 1e-5 --noise_multiplier 1".split(), "--batch_size"),
        ((*BASE[:4], "--epochs", "0", "--delta", "1e-5", "--noise_multiplier", "1"), "--epochs"),
        ((*BASE[:6], "--delta", "1", "--noise_multiplier", "1"), "--delta"),
        ((*BASE, "--noise_multiplier", "-0.5"), "--noise_multiplier"),
        ((*BASE, "--target_epsilon", "0"), "--target_epsilon"),
        ((*BASE, "--target_epsilon", "nan"), "--target_epsilon"),
    ],
)
def test_bad_value_is_one_line_user_error_naming_the_flag(argv, flag):
    with pytest.raises(UserError) as err:
        run_privacy(parse(*argv))
    message = str(err.value)
    assert flag in message and "\n" not in message


def test_module_runs_as_script():
    argv = [sys.executable, "-m", "training.engine.privacy_cli", *BASE, "--noise_multiplier", "1.1", "--json"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout.strip().splitlines()[-1])["epsilon"] > 0
    bad = subprocess.run([*argv[:-2], "-1", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "--noise_multiplier" in bad.stderr


def test_it_prints_no_accounting_warnings_for_small_noise():
    # dp-accounting warns once per RDP order it has to leave out at low noise; the CLI's
    # output must stay the one result line.
    out = subprocess.run(
        [sys.executable, "run.py", "privacy", "--num_examples", "70", "--batch_size", "16", "--epochs", "2"]
        + ["--noise_multiplier", "0.5", "--delta", "1e-5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "epsilon 21.33" in out.stdout
    assert out.stderr == ""
