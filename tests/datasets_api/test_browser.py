"""Upload webface_tiny through the dashboard in Chromium, reloading mid-upload."""

import os
import subprocess

import pytest

from accounts.actions import create_user
from tests.live import ROOT

from .helpers import WEBFACE

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_uploads_resumes_after_reload_and_extracts(server, worker, transactional_db):
    create_user("frank", "frank-password-1")
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="frank", PRIVFACE_PASSWORD="frank-password-1",
               SCREENSHOT_DIR=str(shots), CHROMIUM_PATH=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
               FIXTURES_DIR=str(WEBFACE))
    out = subprocess.run(["node", "e2e/datasets.e2e.mjs"], cwd=ROOT / "frontend", env=env,
                         capture_output=True, text=True, timeout=240)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    for name in ("datasets-uploading.png", "dataset.png", "datasets.png"):
        assert (shots / name).stat().st_size > 1000, name
