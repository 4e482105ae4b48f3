"""Upload webface_tiny through the dashboard in Chromium, reloading mid-upload."""

import pytest

from accounts.actions import create_user
from tests.live import run_e2e

from .helpers import WEBFACE

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_uploads_resumes_after_reload_and_extracts(server, worker, transactional_db):
    create_user("frank", "frank-password-1")
    run_e2e("datasets.e2e.mjs", server, "frank", "frank-password-1",
            ["datasets-uploading.png", "dataset.png", "datasets.png"], timeout=240, FIXTURES_DIR=str(WEBFACE))
