"""A two-round federated run (3 clients, client-level DP) launched from the federated form in
Chromium: the epsilon estimate says what it protects, the round charts and the clients table
fill in, the model card shows the federation."""

import pytest

from accounts.actions import create_user
from tests.conftest import client_for
from tests.live import run_e2e
from tests.training_api.test_training_flow import ready_dataset

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_it_trains_federated_from_the_form(server, worker, transactional_db):
    user, _ = create_user("ivan", "ivan-password-1")
    dataset_id = ready_dataset(client_for(user))
    run_e2e("federated.e2e.mjs", server, "ivan", "ivan-password-1",
            ["federated-form.png", "federated-round.png", "federated.png", "federated-model.png"],
            timeout=720, PRIVFACE_DATASET_ID=str(dataset_id))
