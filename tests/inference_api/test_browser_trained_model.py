"""In Chromium: a gallery from a model trained in the same run (`run.py train`), enrolled
on a worker, found with it; the pages show the model and its privacy."""

import pytest

from accounts.actions import create_user
from tests.live import run_e2e

from .helpers import FACES, register_model

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_creates_a_gallery_from_a_trained_model_and_finds_a_person(server, worker, trained_backbone,
                                                                        transactional_db):
    user, _ = create_user("heidi", "heidi-password-1")
    model = register_model(user, trained_backbone, "webface dp")
    run_e2e("model_gallery.e2e.mjs", server, "heidi", "heidi-password-1", ["model-gallery.png", "model-search.png"],
            FACES_DIR=str(FACES), MODEL_ID=str(model.pk), MODEL_NAME=model.name)
