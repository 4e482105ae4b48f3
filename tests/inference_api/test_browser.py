"""Enroll the shared faces and search with a mirrored photo, in Chromium."""

import pytest

from accounts.actions import create_user
from tests.live import run_e2e

from .helpers import FACES

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_enrolls_and_finds_a_mirrored_face(server, worker, transactional_db):
    create_user("grace", "grace-password-1")
    run_e2e("search.e2e.mjs", server, "grace", "grace-password-1", ["gallery.png", "search.png"],
            FACES_DIR=str(FACES))
