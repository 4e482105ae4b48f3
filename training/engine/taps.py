"""Recording what each parametrised layer saw in a forward pass, for per-example gradients.

A per-example gradient of a layer whose output is linear in its weights is a function of
the layer's input and of the gradient at its output, row by row. DP-SGD asks the layers
(``dp_layers``) to note (input, output) while ``record_taps()`` is active; one backward pass
to the noted outputs then gives everything per-example norms and clipped sums need.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_local = threading.local()


@dataclass
class Tap:
    """One call of a tapped layer: ``inputs`` is what its weights multiply (layer-specific).

    Layers that feed per-example copies of their weights (GroupNorm, PReLU) tap the weights
    as ``inputs`` and the copies as ``output``: the gradient there is per example already.
    """

    layer: Any
    inputs: Any
    output: Any


@contextmanager
def record_taps() -> Iterator[list[Tap]]:
    """Collect the taps of every tapped layer called inside the block (this thread only)."""
    stack = _local.__dict__.setdefault("stack", [])
    taps: list[Tap] = []
    stack.append(taps)
    try:
        yield taps
    finally:
        stack.pop()


def recording() -> bool:
    """Whether taps are being recorded (layers may then build their per-example terms)."""
    return bool(getattr(_local, "stack", None))


def tap(layer: Any, inputs: Any, output: Any) -> None:
    """Called by tapped layers; a no-op unless ``record_taps()`` is active."""
    stack = getattr(_local, "stack", None)
    if stack:
        stack[-1].append(Tap(layer, inputs, output))
