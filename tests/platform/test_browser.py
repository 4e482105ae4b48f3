"""The dashboard in Debian's Chromium (Playwright), against a real server and worker."""

import os
import shutil
import subprocess

import pytest

from accounts.actions import create_user
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SCREENSHOTS = ROOT / "var" / "screenshots"


def test_it_logs_in_runs_and_cancels_selftest_jobs(server, worker, transactional_db):
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    assert (ROOT / "frontend" / "node_modules" / "playwright-core").exists(), "run `make frontend` first"
    assert (ROOT / "frontend" / "dist" / "index.html").exists(), "the dashboard is not built"
    create_user("eve", "eve-password-1")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="eve", PRIVFACE_PASSWORD="eve-password-1",
               SCREENSHOT_DIR=str(SCREENSHOTS), CHROMIUM_PATH=chromium)
    out = subprocess.run(["node", "e2e/dashboard.e2e.mjs"], cwd=ROOT / "frontend", env=env,
                         capture_output=True, text=True, timeout=240)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    for name in ("login.png", "jobs.png", "job.png"):
        assert (SCREENSHOTS / name).stat().st_size > 1000, name
