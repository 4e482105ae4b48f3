"""MirroredStrategy (DP-SGD, and plain steps in bfloat16 mixed precision) on two logical CPU devices in a child
process (no GPUs here)."""

import json
import os
import subprocess
import sys

from tests.training.conftest import REPO


def test_mirrored_dp_step_equals_the_single_device_step(webface_tiny, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.training.mirrored_check", str(webface_tiny), str(tmp_path / "out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["difference"] < 1e-6  # clip per replica, sum across, pad with weight-0 examples
    assert result["steps"] == 18 and result["epsilon"] > 0
    assert result["devices"].startswith("mirrored over") and "CPU:1" in result["devices"]
    # The plain (non-DP) mirrored path with bfloat16 mixed precision and BatchNorm.
    assert result["plain_steps"] == 2 * 9 and result["plain_mixed"] is True
    assert all(loss == loss for loss in result["plain_loss"])  # no NaN
    assert result["plain_accuracy"] is not None
    assert result["export_dtype"] == "float32"  # the exported embedding is float32 whatever the policy
    assert result["policy_after"] == "float32"  # the worker's global policy is restored
