"""A one-epoch DP run launched from the training form in Chromium: the chart updates,
epsilon appears, the model and the dataset's ledger show it."""

import pytest

from accounts.actions import create_user
from tests.conftest import client_for
from tests.live import run_e2e

from .test_training_flow import ready_dataset

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_trains_from_the_form(server, worker, transactional_db):
    user, _ = create_user("heidi", "heidi-password-1")
    dataset_id = ready_dataset(client_for(user))
    run_e2e("training.e2e.mjs", server, "heidi", "heidi-password-1", ["training.png", "model.png", "ledger.png"],
            timeout=400, PRIVFACE_DATASET_ID=str(dataset_id))
