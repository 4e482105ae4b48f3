"""Privacy accounting for DP-SGD with Poisson sampling, on top of ``dp-accounting``.

One training step of DP-SGD is a Poisson-subsampled Gaussian mechanism: each example joins
the batch independently with probability ``q`` (the sample rate) and the summed clipped
gradients get Gaussian noise with std ``noise_multiplier * l2_norm_clip``. ``steps`` such
steps compose. RDP is the default accountant (what tensorflow-privacy's
``compute_dp_sgd_privacy`` reports, same orders); PLD is tighter and slower.

No TensorFlow here: the CLI and the web tier call this to show epsilon before any training.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import dp_accounting
from dp_accounting.pld import PLDAccountant
from dp_accounting.rdp import RdpAccountant

from training.engine import dp_params
from training.engine.dp_params import (  # noqa: F401 - re-exported
    ACCOUNTANTS,
    MAX_NOISE_MULTIPLIER,
    PlanError,
    UnreliableEpsilon,
)

# tensorflow-privacy's compute_dp_sgd_privacy orders, so our RDP epsilons match its reports.
RDP_ORDERS: tuple[float, ...] = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))
# Calibration lands on an epsilon in [(1 - tol) * target, target]: never above the target.
CALIBRATION_TOLERANCE = 0.01


def _drop_excluded_order_warnings(record: logging.LogRecord) -> bool:
    # With little noise, dp-accounting cannot evaluate some small RDP orders and leaves them
    # out, logging one absl warning per order and call (a dozen lines per CLI run). The
    # epsilon from the remaining orders is still a valid bound, so the lines are only noise.
    return not str(record.msg).startswith("_compute_log_a_frac failed to converge")


logging.getLogger("absl").addFilter(_drop_excluded_order_warnings)


UNRELIABLE = ("the accountant cannot bound epsilon for these parameters (numerically unstable);"
              " try the other accountant or other parameters")


def dp_sgd_event(noise_multiplier: float, sample_rate: float, steps: int) -> dp_accounting.DpEvent:
    """The DpEvent of ``steps`` DP-SGD steps with Poisson sampling at rate ``sample_rate``."""
    if noise_multiplier == 0:
        # No noise: no privacy at all (dp-accounting would divide by zero).
        return dp_accounting.NonPrivateDpEvent()
    step = dp_accounting.PoissonSampledDpEvent(sample_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    return dp_accounting.SelfComposedDpEvent(step, steps)


class PrivacyAccountant:
    """Tracks the privacy spent by DP-SGD steps (Opacus-style interface).

    ``step(noise_multiplier, sample_rate, steps=1)`` after training steps, ``get_epsilon(delta)``
    whenever a report is due. History is kept run-length encoded and composed afresh on each
    ``get_epsilon``: composing one PLD step at a time would cost a convolution per step.
    """

    def __init__(self, accountant: str = "rdp") -> None:
        dp_params.check(accountant=accountant)
        self.mechanism = accountant
        self.history: list[tuple[float, float, int]] = []  # (noise_multiplier, sample_rate, steps)

    def step(self, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        if noise_multiplier < 0 or not 0 <= sample_rate <= 1 or steps < 0:
            raise ValueError(
                f"need noise_multiplier >= 0, 0 <= sample_rate <= 1, steps >= 0;"
                f" got {noise_multiplier}, {sample_rate}, {steps}"
            )
        if self.history and self.history[-1][:2] == (noise_multiplier, sample_rate):
            self.history[-1] = (noise_multiplier, sample_rate, self.history[-1][2] + steps)
        else:
            self.history.append((noise_multiplier, sample_rate, steps))

    @property
    def steps(self) -> int:
        return sum(count for _, _, count in self.history)

    def _composed(self) -> RdpAccountant | PLDAccountant:
        acc: RdpAccountant | PLDAccountant = (
            RdpAccountant(list(RDP_ORDERS)) if self.mechanism == "rdp" else PLDAccountant()
        )
        for noise, rate, count in self.history:
            if count and rate > 0:  # a step that touches no data costs no privacy
                acc.compose(dp_sgd_event(noise, rate, count))
        return acc

    def _spends(self) -> bool:
        return any(count and rate > 0 and noise != 0 for noise, rate, count in self.history)

    def get_epsilon(self, delta: float) -> float:
        """A valid upper bound on epsilon, or UnreliableEpsilon: never a value below one."""
        dp_params.check(delta=delta)
        acc = self._composed()
        rdp = getattr(acc, "_rdp", None)
        if isinstance(acc, RdpAccountant) and rdp is not None and any(value < 0 for value in rdp):
            # dp-accounting logs "Negative Renyi divergence ... Returning an epsilon of zero".
            raise UnreliableEpsilon(UNRELIABLE)
        epsilon = float(acc.get_epsilon(delta))
        if math.isnan(epsilon) or (epsilon <= 0 and self._spends()):
            raise UnreliableEpsilon(UNRELIABLE)
        return epsilon

    def get_optimal_order(self, delta: float) -> float | None:
        """The RDP order that gives ``get_epsilon(delta)``; None for PLD."""
        if self.mechanism != "rdp":
            return None
        acc = self._composed()
        assert isinstance(acc, RdpAccountant)
        return float(acc.get_epsilon_and_optimal_order(delta)[1])


@dataclass(frozen=True)
class TrainingPlan:
    """The privacy-relevant shape of a training run."""

    num_examples: int
    batch_size: int
    epochs: float

    def __post_init__(self) -> None:
        dp_params.check(num_examples=self.num_examples, batch_size=self.batch_size, epochs=self.epochs)

    @property
    def sample_rate(self) -> float:
        """q: each example joins a batch independently with this probability."""
        return self.batch_size / self.num_examples

    @property
    def steps(self) -> int:
        return dp_params.steps_of(self.num_examples, self.batch_size, self.epochs)


def compute_epsilon(
    num_examples: int,
    batch_size: int,
    epochs: float,
    noise_multiplier: float,
    delta: float,
    accountant: str = "rdp",
) -> float:
    """Epsilon after ``epochs`` of DP-SGD on ``num_examples`` with expected batch ``batch_size``."""
    plan = TrainingPlan(num_examples, batch_size, epochs)
    dp_params.check(noise_multiplier=noise_multiplier)
    acc = PrivacyAccountant(accountant)
    acc.step(noise_multiplier, plan.sample_rate, plan.steps)
    return acc.get_epsilon(delta)


def calibrate_noise(
    target_epsilon: float,
    num_examples: int,
    batch_size: int,
    epochs: float,
    delta: float,
    accountant: str = "rdp",
    tolerance: float = CALIBRATION_TOLERANCE,
) -> float:
    """The noise multiplier whose epsilon is in ``[(1 - tolerance) * target, target]``.

    Bisection: epsilon falls monotonically as the noise grows. The answer errs on the safe
    side (epsilon at most the target), within ``tolerance`` of it.
    """
    dp_params.check(num_examples=num_examples, batch_size=batch_size, epochs=epochs, delta=delta,
                    target_epsilon=target_epsilon, accountant=accountant)

    def eps(noise: float) -> float:
        return compute_epsilon(num_examples, batch_size, epochs, noise, delta, accountant)

    low = 0.0  # epsilon(low) > target (infinite at 0)
    high = 1.0
    if accountant == "pld":
        # RDP over-estimates epsilon, so RDP's answer is enough noise for PLD: a tight start.
        high = calibrate_noise(target_epsilon, num_examples, batch_size, epochs, delta, "rdp", tolerance)
    eps_high = eps(high)
    while eps_high > target_epsilon:
        low, high = high, high * 2
        if high > MAX_NOISE_MULTIPLIER:
            raise ValueError(f"target_epsilon {target_epsilon} needs a noise multiplier above {MAX_NOISE_MULTIPLIER}")
        eps_high = eps(high)
    # Invariant: eps(low) > target >= eps(high). Stop once eps(high) is close enough.
    for _ in range(100):
        if eps_high >= (1 - tolerance) * target_epsilon:
            return high
        mid = (low + high) / 2
        eps_mid = eps(mid)
        if eps_mid > target_epsilon:
            low = mid
        else:
            high, eps_high = mid, eps_mid
    return high  # PLD's discretised epsilon can jump over the band; high is still safe


def estimate(num_examples: int, batch_size: int, epochs: float, delta: float, accountant: str,
             noise_multiplier: float | None = None, target_epsilon: float | None = None) -> dict:
    """Epsilon for the noise, or the noise for a target: what ``run.py privacy`` prints and
    ``POST /api/privacy/`` answers (there in a compute process, privface_site.compute).
    Bad input is a ``PlanError`` (a ValueError) naming the parameter; a target no noise up to
    MAX_NOISE_MULTIPLIER reaches is a ValueError, an epsilon it cannot bound UnreliableEpsilon."""
    dp_params.check_estimate(num_examples, batch_size, epochs, delta, accountant, noise_multiplier, target_epsilon)
    if noise_multiplier is None:
        noise_multiplier = calibrate_noise(target_epsilon, num_examples, batch_size, epochs, delta, accountant)
    epsilon = compute_epsilon(num_examples, batch_size, epochs, noise_multiplier, delta, accountant)
    plan = TrainingPlan(num_examples, batch_size, epochs)
    return {
        "epsilon": epsilon if math.isfinite(epsilon) else None,
        "noise_multiplier": noise_multiplier, "delta": delta, "accountant": accountant,
        "steps": plan.steps, "sample_rate": plan.sample_rate, "num_examples": num_examples,
    }

