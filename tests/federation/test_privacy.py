"""Federated epsilons equal dp-accounting's for the same events."""

import dp_accounting
import pytest
from dp_accounting.rdp import RdpAccountant

from federation.engine import privacy
from training.engine.accounting import RDP_ORDERS, PrivacyAccountant


def test_it_matches_dp_accounting_for_client_level_sampling_without_replacement():
    got = privacy.client_level_epsilon(num_clients=100, sampled=10, noise=1.2, rounds=50, delta=1e-5)
    acc = RdpAccountant(list(RDP_ORDERS), dp_accounting.NeighboringRelation.REPLACE_ONE)
    # Replace-one neighbours: a clipped update swapped for another moves the sum by 2C.
    event = dp_accounting.SampledWithoutReplacementDpEvent(100, 10, dp_accounting.GaussianDpEvent(1.2 / 2))
    acc.compose(dp_accounting.SelfComposedDpEvent(event, 50))
    assert got == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)


def test_it_uses_no_amplification_when_every_client_takes_part():
    got = privacy.client_level_epsilon(num_clients=5, sampled=5, noise=2.0, rounds=10, delta=1e-5)
    acc = RdpAccountant(list(RDP_ORDERS), dp_accounting.NeighboringRelation.REPLACE_ONE)
    acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.GaussianDpEvent(1.0), 10))
    assert got == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)
    assert got > privacy.client_level_epsilon(num_clients=50, sampled=5, noise=2.0, rounds=10, delta=1e-5)


def test_sample_level_composes_every_local_step_of_every_round():
    # 1000 training images, B 50, 2 local epochs: 40 steps a round, 3 rounds, q = 0.05.
    got = privacy.sample_level_epsilon(1000, 50, 2, 3, 1.1, 1e-5)
    acc = PrivacyAccountant("rdp")
    acc.step(1.1, 0.05, 120)
    assert got == pytest.approx(acc.get_epsilon(1e-5), rel=1e-12)
    assert privacy.local_steps(1000, 50, 2) == 40


def test_calibration_spends_at_most_the_target():
    z = privacy.calibrate(lambda n: privacy.client_level_epsilon(100, 10, n, 50, 1e-5), 4.0)
    eps = privacy.client_level_epsilon(100, 10, z, 50, 1e-5)
    assert 0.99 * 4.0 <= eps <= 4.0 or eps <= 4.0


def test_an_image_gets_the_tighter_of_the_two_guarantees():
    assert privacy.example_level(3.0, 1.5) == 1.5
    assert privacy.example_level(None, 2.0) == 2.0
    assert privacy.example_level(None, None) is None


def test_the_estimate_reports_noise_for_a_target():
    answer = privacy.estimate("client", 20, 5, 10, None, 3.0, 1e-5, [40] * 20, 8, 1)
    assert answer["epsilon"] <= 3.0 and answer["noise_multiplier"] > 0
    assert "client" in answer["unit"]
    sample = privacy.estimate("sample", 3, 3, 2, 1.0, None, 1e-5, [21, 28, 21], 8, 1)
    assert sample["epsilon"] == pytest.approx(privacy.sample_level_epsilon(21, 8, 1, 2, 1.0, 1e-5))
