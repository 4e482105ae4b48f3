"""A backbone trained once per test session by `run.py train` (DP-SGD, one epoch on
webface_tiny: about a minute here), for the tests that close the train -> enroll -> search loop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT

from .helpers import FIXTURES

WEBFACE_TINY = FIXTURES / "recordio" / "webface_tiny"


def run_cli(*args: str, var_dir, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRIVFACE_VAR_DIR": str(var_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture(scope="session")
def trained_backbone(tmp_path_factory) -> Path:
    """``export/backbone.keras`` (with its model_card.json beside it) of a fresh DP run."""
    if not (WEBFACE_TINY / "train.rec").is_file():
        pytest.fail(f"fixture {WEBFACE_TINY} missing (set PRIVFACE_FIXTURES)")
    out = tmp_path_factory.mktemp("train")
    data = WEBFACE_TINY
    done = run_cli("train", "--rec_file", str(data / "train.rec"), "--idx_file", str(data / "train.idx"),
                   "--eval_bin", str(data / "lfw_tiny.bin"), "--use_dp", "--target_epsilon", "8",
                   "--delta", "1e-3", "--epochs", "1", "--batch_size", "16", "--output_dir", str(out / "run"),
                   var_dir=out, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out / "run" / "export" / "backbone.keras"
