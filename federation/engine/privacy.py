"""Privacy accounting of a federated run, on ``dp-accounting``.

Two units, combinable:

- **Sample level** (``--dp_level sample``): each client runs DP-SGD on its own images. Its
  epsilon composes every local step of every round it took part in (Poisson rate B / n_i);
  the unit is one image of that client. The run reports each client's epsilon and the maximum.
- **Client level** (``--dp_level client``): the server releases the mean of clipped model
  updates of K clients drawn without replacement from N, plus Gaussian noise of std z·C/K
  (Flower's fixed-clipping wrappers). The unit is one client's whole dataset. Flower samples
  a fixed number of clients, so the neighbouring relation is *replace one client* and the
  sum's L2 sensitivity is 2C, not C: the accountant sees the noise multiplier z/2. Amplification
  by sampling is the without-replacement bound of Wang, Balle and Kasiviswanathan (2019),
  dp-accounting's ``SampledWithoutReplacementDpEvent``. Flower's own accountant assumes no
  amplification; this one is tighter when K < N and as safe.

A client-level guarantee also covers any one image (it lies inside one client's data), so the
example-level epsilon charged to a dataset's ledger is the smaller of the two when both apply.
"""

from __future__ import annotations

import math

import dp_accounting
from dp_accounting import NeighboringRelation
from dp_accounting.rdp import RdpAccountant

from training.engine.accounting import MAX_NOISE_MULTIPLIER, RDP_ORDERS, PrivacyAccountant

REPLACE_ONE_SENSITIVITY = 2.0  # a clipped update swapped for another moves the sum by up to 2C


def local_steps(num_train: int, batch_size: int, local_epochs: int) -> int:
    """DP-SGD steps one client takes in one round: ceil(epochs * n / B), as centralized training."""
    return math.ceil(local_epochs * num_train / min(batch_size, num_train))


def client_sample_rate(num_train: int, batch_size: int) -> float:
    return min(batch_size, num_train) / num_train


def sample_level_epsilon(num_train: int, batch_size: int, local_epochs: int, rounds: int, noise: float,
                         delta: float, accountant: str = "rdp") -> float:
    """Epsilon of one client after ``rounds`` rounds of local DP-SGD."""
    acc = PrivacyAccountant(accountant)
    steps = local_steps(num_train, batch_size, local_epochs) * rounds
    acc.step(noise, client_sample_rate(num_train, batch_size), steps)
    return acc.get_epsilon(delta)


def client_level_event(num_clients: int, sampled: int, noise: float, rounds: int) -> dp_accounting.DpEvent:
    if noise == 0:
        return dp_accounting.NonPrivateDpEvent()
    gaussian = dp_accounting.GaussianDpEvent(noise / REPLACE_ONE_SENSITIVITY)
    one_round = gaussian if sampled >= num_clients else dp_accounting.SampledWithoutReplacementDpEvent(
        num_clients, sampled, gaussian)
    return dp_accounting.SelfComposedDpEvent(one_round, rounds)


def client_level_epsilon(num_clients: int, sampled: int, noise: float, rounds: int, delta: float) -> float:
    """User-level epsilon (unit: one client's dataset) after ``rounds`` noisy aggregations."""
    if rounds == 0:
        return 0.0
    acc = RdpAccountant(list(RDP_ORDERS), NeighboringRelation.REPLACE_ONE)
    acc.compose(client_level_event(num_clients, sampled, noise, rounds))
    return float(acc.get_epsilon(delta))


def calibrate(epsilon_of, target: float) -> float:
    """The smallest noise (within 1 %) whose ``epsilon_of(noise)`` is at most ``target``."""
    low, high = 0.0, 1.0
    while epsilon_of(high) > target:
        low, high = high, high * 2
        if high > MAX_NOISE_MULTIPLIER:
            raise ValueError(f"target_epsilon {target} needs a noise multiplier above {MAX_NOISE_MULTIPLIER}")
    for _ in range(60):
        if epsilon_of(high) >= 0.99 * target or high - low < 1e-4:
            break
        mid = (low + high) / 2
        low, high = (mid, high) if epsilon_of(mid) > target else (low, mid)
    return high


def example_level(sample_eps: float | None, client_eps: float | None) -> float | None:
    """What one image's owner is guaranteed: the tighter of the bounds that apply."""
    bounds = [e for e in (sample_eps, client_eps) if e is not None]
    return min(bounds) if bounds else None


def estimate(level: str, num_clients: int, sampled: int, rounds: int, noise: float | None,
             target: float | None, delta: float, client_sizes: list[int], batch_size: int, local_epochs: int,
             accountant: str = "rdp") -> dict:
    """What the federated form shows before a run: epsilon for the noise, or the noise for a target.

    Sample level: the client with the fewest training images (the highest sample rate) taking
    part in every round, the worst case. Client level: ``sampled`` of ``num_clients`` per round.
    """
    if level == "client":
        def epsilon_of(z: float) -> float:
            return client_level_epsilon(num_clients, sampled, z, rounds, delta)
        unit = "one client's whole dataset (user-level DP)"
    else:
        smallest = min(client_sizes)

        def epsilon_of(z: float) -> float:
            return sample_level_epsilon(smallest, batch_size, local_epochs, rounds, z, delta, accountant)
        unit = "one image of one client (example-level DP)"
    if noise is None:
        noise = calibrate(epsilon_of, float(target))
    epsilon = epsilon_of(noise)
    return {"epsilon": epsilon if math.isfinite(epsilon) else None, "noise_multiplier": noise, "delta": delta,
            "dp_level": level, "unit": unit, "rounds": rounds, "smallest_client": min(client_sizes) if client_sizes
            else None}
