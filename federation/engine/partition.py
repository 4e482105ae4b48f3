"""Split a server-side dataset among N simulated clients, reproducibly from a seed.

- ``by_identity`` (default): each identity's images all go to one client, identities dealt
  out evenly: the cross-silo case (two organisations rarely hold photos of the same people).
- ``iid``: images shuffled and dealt out evenly, so every client sees most identities.
- ``dirichlet``: label skew (Hsu et al. 2019): each identity's images are split among clients
  in proportions drawn from Dirichlet(alpha); small alpha, strong skew.
"""

from __future__ import annotations

import numpy as np

from training.engine.config import ConfigError

MIN_IMAGES_PER_CLIENT = 2  # one to train on and, with a holdout, one to audit with
_DIRICHLET_TRIES = 100


def partition(labels: np.ndarray, num_clients: int, method: str, alpha: float = 0.5,
              seed: int = 0) -> list[np.ndarray]:
    """Sorted positions into ``labels`` for each client; every position goes to exactly one."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 7])
    identities = np.unique(labels)
    if method == "by_identity":
        if num_clients > len(identities):
            raise ConfigError("num_clients", f"is {num_clients}, but the dataset has only {len(identities)}"
                                             " identities to share out with --partition by_identity")
        groups = np.array_split(rng.permutation(identities), num_clients)
        parts = [np.flatnonzero(np.isin(labels, group)) for group in groups]
    elif method == "iid":
        if num_clients * MIN_IMAGES_PER_CLIENT > len(labels):
            raise ConfigError("num_clients", f"is {num_clients}: {len(labels)} images cannot give every client"
                                             f" {MIN_IMAGES_PER_CLIENT}")
        parts = [np.sort(p) for p in np.array_split(rng.permutation(len(labels)), num_clients)]
    elif method == "dirichlet":
        parts = _dirichlet(labels, identities, num_clients, alpha, rng)
    else:
        raise ConfigError("partition", f"must be by_identity, iid or dirichlet, got {method!r}")
    small = [i for i, p in enumerate(parts) if len(p) < MIN_IMAGES_PER_CLIENT]
    if small:
        raise ConfigError("num_clients", f"is {num_clients}: client {small[0]} would get fewer than"
                                         f" {MIN_IMAGES_PER_CLIENT} images (use fewer clients)")
    return [np.sort(p).astype(np.int64) for p in parts]


def _dirichlet(labels: np.ndarray, identities: np.ndarray, k: int, alpha: float,
               rng: np.random.Generator) -> list[np.ndarray]:
    for _ in range(_DIRICHLET_TRIES):
        parts: list[list[np.ndarray]] = [[] for _ in range(k)]
        for identity in identities:
            members = rng.permutation(np.flatnonzero(labels == identity))
            shares = rng.dirichlet(np.full(k, alpha))
            cuts = np.round(np.cumsum(shares)[:-1] * len(members)).astype(int)
            for client, chunk in enumerate(np.split(members, cuts)):
                parts[client].append(chunk)
        joined = [np.concatenate(p) if p else np.zeros(0, np.int64) for p in parts]
        if all(len(p) >= MIN_IMAGES_PER_CLIENT for p in joined):
            return joined
    raise ConfigError("alpha", f"{alpha} with {k} clients leaves a client with fewer than {MIN_IMAGES_PER_CLIENT}"
                               f" of {len(labels)} images in {_DIRICHLET_TRIES} draws: raise --alpha or"
                               " use fewer clients")


def describe(labels: np.ndarray, parts: list[np.ndarray]) -> list[dict[str, int]]:
    """Images and identities per client, for the model card."""
    return [{"client": i, "images": int(len(p)), "identities": int(len(np.unique(labels[p])))}
            for i, p in enumerate(parts)]
