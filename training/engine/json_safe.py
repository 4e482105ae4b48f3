"""One rule for numbers that JSON cannot hold, for every file and event the engines write."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """Infinity and NaN become null (an infinite epsilon means no privacy); NumPy scalars become
    Python numbers; tuples become lists."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (dict, list, tuple)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
