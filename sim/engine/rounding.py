"""One rounding rule for the whole engine: half up (2.5 -> 3, 3.5 -> 4), never Python's banker's ``round``.

Transit times become whole days for the legs that step daily (shared pipelines, rail), shock times
become whole hours, and counts (tankers at sea at the start, berths usable) whole numbers, all by it.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["half_up", "half_up_array"]


def half_up(x: float) -> int:
    """``x`` rounded to the nearest integer, halves up."""
    return math.floor(x + 0.5)


def half_up_array(x: np.ndarray) -> np.ndarray:
    """``half_up`` elementwise, as integers."""
    return np.floor(x + 0.5).astype(int)
