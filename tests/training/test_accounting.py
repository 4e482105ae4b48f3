"""Accountant values against dp-accounting used directly, and noise calibration."""

import math
import subprocess
import sys
from pathlib import Path

import dp_accounting
import pytest
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant

from training.engine import accounting

TF_PRIVACY_ORDERS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))

ROOT = Path(__file__).resolve().parents[2]


def direct_epsilon(n: int, b: int, epochs: float, z: float, delta: float, pld: bool = False) -> float:
    steps = math.ceil(epochs * n / b)
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(b / n, dp_accounting.GaussianDpEvent(z)), steps
    )
    acc = PLDAccountant() if pld else RdpAccountant(TF_PRIVACY_ORDERS)
    return acc.compose(event).get_epsilon(delta)


@pytest.mark.parametrize("n,b,epochs,z,delta", [(60000, 256, 60, 1.1, 1e-5), (10000, 100, 2.5, 0.8, 1e-4)])
def test_rdp_epsilon_equals_dp_accounting(n, b, epochs, z, delta):
    assert accounting.compute_epsilon(n, b, epochs, z, delta) == pytest.approx(direct_epsilon(n, b, epochs, z, delta))


def test_pld_epsilon_equals_dp_accounting_and_is_tighter():
    eps_pld = accounting.compute_epsilon(10000, 100, 2, 1.0, 1e-5, accountant="pld")
    assert eps_pld == pytest.approx(direct_epsilon(10000, 100, 2, 1.0, 1e-5, pld=True))
    assert eps_pld < accounting.compute_epsilon(10000, 100, 2, 1.0, 1e-5)


def test_rdp_orders_are_tensorflow_privacys():
    assert list(accounting.RDP_ORDERS) == TF_PRIVACY_ORDERS


def test_accountant_step_interface_composes_steps():
    acc = accounting.PrivacyAccountant()
    for _ in range(300):
        acc.step(noise_multiplier=1.0, sample_rate=0.01)
    acc.step(noise_multiplier=1.0, sample_rate=0.01, steps=200)
    assert acc.steps == 500 and len(acc.history) == 1  # run-length encoded
    assert acc.get_epsilon(1e-5) == pytest.approx(direct_epsilon(10000, 100, 5, 1.0, 1e-5))
    # A later phase with other settings composes on top.
    acc.step(2.0, 0.02, steps=10)
    assert acc.get_epsilon(1e-5) > direct_epsilon(10000, 100, 5, 1.0, 1e-5)


def test_no_noise_means_no_privacy():
    assert accounting.compute_epsilon(1000, 10, 1, 0.0, 1e-5) == math.inf
    assert accounting.PrivacyAccountant().get_epsilon(1e-5) == 0.0


@pytest.mark.parametrize(
    "target,acc,n",
    [(3.0, "rdp", 20000), (0.5, "rdp", 20000), (8.0, "rdp", 20000), (2.0, "pld", 2000)],  # PLD is slower: fewer steps
)
def test_calibration_lands_within_one_percent_below_target(target, acc, n):
    b, epochs, delta = n // 100, 3, 1e-5
    z = accounting.calibrate_noise(target, n, b, epochs, delta, accountant=acc)
    eps = accounting.compute_epsilon(n, b, epochs, z, delta, accountant=acc)
    assert 0.99 * target <= eps <= target


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_examples=0, batch_size=1, epochs=1, noise_multiplier=1, delta=1e-5),
        dict(num_examples=10, batch_size=11, epochs=1, noise_multiplier=1, delta=1e-5),
        dict(num_examples=10, batch_size=1, epochs=0, noise_multiplier=1, delta=1e-5),
        dict(num_examples=10, batch_size=1, epochs=1, noise_multiplier=-1, delta=1e-5),
        dict(num_examples=10, batch_size=1, epochs=1, noise_multiplier=1, delta=1.5),
        dict(num_examples=10, batch_size=1, epochs=1, noise_multiplier=1, delta=1e-5, accountant="gdp"),
    ],
)
def test_bad_inputs_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        accounting.compute_epsilon(**kwargs)


def test_no_tensorflow_import():
    code = "import sys, training.engine.accounting; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
