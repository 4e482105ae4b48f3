"""Enroll the shared faces and search with a mirrored photo, in Chromium."""

import os
import subprocess

import pytest

from accounts.actions import create_user
from tests.live import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

FACES = os.environ.get("PRIVFACE_FIXTURES", str(ROOT.parent / "shared" / "fixtures")) + "/faces"


def test_it_enrolls_and_finds_a_mirrored_face(server, worker, transactional_db):
    create_user("grace", "grace-password-1")
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="grace", PRIVFACE_PASSWORD="grace-password-1",
               SCREENSHOT_DIR=str(shots), CHROMIUM_PATH=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
               FACES_DIR=FACES)
    out = subprocess.run(["node", "e2e/search.e2e.mjs"], cwd=ROOT / "frontend", env=env,
                         capture_output=True, text=True, timeout=300)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    for name in ("gallery.png", "search.png"):
        assert (shots / name).stat().st_size > 1000, name
