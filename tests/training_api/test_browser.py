"""A one-epoch DP run launched from the training form in Chromium: the chart updates,
epsilon appears, the model and the dataset's ledger show it."""

import os
import subprocess

import pytest

from accounts.actions import create_user
from tests.conftest import client_for
from tests.live import ROOT

from .test_training_flow import ready_dataset

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_trains_from_the_form(server, worker, transactional_db):
    user, _ = create_user("heidi", "heidi-password-1")
    dataset_id = ready_dataset(client_for(user))
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="heidi", PRIVFACE_PASSWORD="heidi-password-1",
               SCREENSHOT_DIR=str(shots), CHROMIUM_PATH=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
               PRIVFACE_DATASET_ID=str(dataset_id))
    out = subprocess.run(["node", "e2e/training.e2e.mjs"], cwd=ROOT / "frontend", env=env,
                         capture_output=True, text=True, timeout=400)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    for name in ("training.png", "model.png", "ledger.png"):
        assert (shots / name).stat().st_size > 1000, name
