"""The parameters of a DP-SGD privacy estimate, and their one validation.

``run.py privacy``, ``POST /api/privacy/`` (the training form's estimate), the accountant
(``accounting.TrainingPlan``, ``accounting.estimate``) and the training and federated
configs check these values here, so a value is refused with one message everywhere. Only
the bounds differ: a web request gets upper limits (its cost is the server's), the command
line does not. No dp-accounting here (it loads scipy): a bad flag is refused at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from privface_core.errors import ConfigError

ACCOUNTANTS = ("rdp", "pld")
MAX_BATCH_SIZE = 65536
MAX_EPOCHS = 1000
# No sensible training needs more noise than this; calibration stops searching above it.
MAX_NOISE_MULTIPLIER = 1e4


class UnreliableEpsilon(ValueError):
    """dp-accounting could not bound epsilon for these parameters (numerical trouble): it
    would answer an epsilon of zero. We refuse rather than report less than a valid bound.
    (Here, not in accounting.py, so the web process can catch it without importing
    dp-accounting.)"""


class PlanError(ConfigError, ValueError):
    """A bad privacy parameter: a ``ConfigError`` naming its field (``--field message`` on the
    command line, ``{"field": [...]}`` from the API), and a ``ValueError`` for callers of the
    accountant."""


@dataclass(frozen=True)
class Bounds:
    """Upper limits where the inputs drive a server's cost (None: no limit)."""

    num_examples: int | None = None
    batch_size: int | None = None
    epochs: float | None = None
    steps: int | None = None
    noise_multiplier: float | None = None
    target_epsilon: float | None = None
    smallest: float = 0.0  # epochs and target_epsilon are above 0, and at least this


UNBOUNDED = Bounds()
# POST /api/privacy/: CASIA-WebFace has 0.5 M images, WebFace260M 260 M (the training form
# shows this endpoint's 400 when its noise or epsilon is beyond these).
ESTIMATE_BOUNDS = Bounds(num_examples=1_000_000_000, batch_size=MAX_BATCH_SIZE, epochs=MAX_EPOCHS,
                         steps=10_000_000, noise_multiplier=1000, target_epsilon=1000, smallest=0.001)


def steps_of(num_examples: int, batch_size: int, epochs: float) -> int:
    """DP-SGD steps of a plan, as tensorflow-privacy counts them: ceil(epochs * N / B)."""
    return math.ceil(epochs * num_examples / batch_size)


def _show(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(name: str, value: Any, high: int | None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1 or (high is not None and value > high):
        wording = f"from 1 to {_show(high)}" if high is not None else ">= 1"
        raise PlanError(name, f"must be a whole number {wording}, got {value!r}")


def _positive(name: str, value: Any, high: float | None, smallest: float) -> None:
    if not (_finite(value) and value > 0 and value >= smallest and (high is None or value <= high)):
        if high is None:
            wording = "a positive number"
        elif smallest > 0:
            wording = f"a number from {_show(smallest)} to {_show(high)}"
        else:
            wording = f"a positive number up to {_show(high)}"
        raise PlanError(name, f"must be {wording}, got {value!r}")


def check(*, num_examples: Any = None, batch_size: Any = None, epochs: Any = None, delta: Any = None,
          noise_multiplier: Any = None, target_epsilon: Any = None, accountant: Any = None,
          bounds: Bounds = UNBOUNDED) -> None:
    """Check the parameters given (None: not part of this plan); ``PlanError`` names the first bad one."""
    if num_examples is not None:
        _whole("num_examples", num_examples, bounds.num_examples)
    if batch_size is not None:
        _whole("batch_size", batch_size, bounds.batch_size)
        if num_examples is not None and batch_size > num_examples:
            raise PlanError("batch_size", f"must not exceed num_examples ({num_examples}), got {batch_size}")
    if epochs is not None:
        _positive("epochs", epochs, bounds.epochs, bounds.smallest)
        if bounds.steps is not None and num_examples is not None and batch_size is not None:
            steps = steps_of(num_examples, batch_size, epochs)
            if steps > bounds.steps:
                raise PlanError("epochs", f"gives {steps:,} training steps (epochs x num_examples / batch_size);"
                                          f" at most {bounds.steps:,} can be estimated")
    if delta is not None and not (_finite(delta) and 0 < delta < 1):
        raise PlanError("delta", f"must be between 0 and 1 (exclusive), got {delta!r}")
    if noise_multiplier is not None:
        high = bounds.noise_multiplier
        if not (_finite(noise_multiplier) and noise_multiplier >= 0 and (high is None or noise_multiplier <= high)):
            wording = f"a number from 0 to {_show(high)}" if high is not None else "a number >= 0"
            raise PlanError("noise_multiplier", f"must be {wording}, got {noise_multiplier!r}")
    if target_epsilon is not None:
        _positive("target_epsilon", target_epsilon, bounds.target_epsilon, bounds.smallest)
    if accountant is not None and accountant not in ACCOUNTANTS:
        raise PlanError("accountant", f"must be one of {', '.join(ACCOUNTANTS)}, got {accountant!r}")


def check_estimate(num_examples: Any, batch_size: Any, epochs: Any, delta: Any, accountant: Any = "rdp",
                   noise_multiplier: Any = None, target_epsilon: Any = None, bounds: Bounds = UNBOUNDED) -> None:
    """An estimate's parameters: the plan, delta, the accountant and exactly one of the noise
    (epsilon is asked) or a target epsilon (the noise is asked)."""
    if (noise_multiplier is None) == (target_epsilon is None):
        raise PlanError("noise_multiplier", "or --target_epsilon: give exactly one")
    check(num_examples=num_examples, batch_size=batch_size, epochs=epochs, delta=delta,
          noise_multiplier=noise_multiplier, target_epsilon=target_epsilon, accountant=accountant, bounds=bounds)
