"""The dashboard in Debian's Chromium (Playwright), against a real server and worker."""

import pytest

from accounts.actions import create_user
from tests.live import run_e2e

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_logs_in_runs_and_cancels_selftest_jobs(server, worker, transactional_db):
    create_user("eve", "eve-password-1", staff=True)  # selftest jobs are staff-only (#14)
    run_e2e("dashboard.e2e.mjs", server, "eve", "eve-password-1", ["login.png", "overview.png", "jobs.png", "job.png"],
            timeout=240)
