"""Daily series helpers shared by the ensemble (fan charts) and the plots: the one rolling-window mean.

Imports nothing from ``sim``, so every layer may use it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rolling_mean"]


def rolling_mean(
    values: np.ndarray, window: int, centred: bool = False, first: int = 0, stop: int | None = None
) -> np.ndarray:
    """Mean over ``window`` days, trailing (or ``centred`` on the day), shorter at the ends: cargoes arrive in lumps.

    Along the last axis (one series, or one row per replication). A centred mean does not lag a
    shock by half a window, and its first value averages the first days instead of one or two
    lumpy ones (no start-up spike from the averaging itself). ``first`` and ``stop`` give the means
    of those days only, summing no more of the series than their windows need (a long horizon in
    blocks of days keeps the working memory small).
    """
    values = np.asarray(values, dtype=float)
    size = values.shape[-1]
    stop = size if stop is None else stop
    if window <= 1 or size == 0:
        return values if (first, stop) == (0, size) else values[..., first:stop]
    days = np.arange(first, stop)
    if centred:
        begins = np.maximum(0, days - (window - 1) // 2)
        ends = np.minimum(size, days + window // 2 + 1)
    else:
        ends = days + 1
        begins = np.maximum(0, ends - window)
    lo, hi = int(begins.min()), int(ends.max())
    sums = np.zeros((*values.shape[:-1], hi - lo + 1))
    np.cumsum(values[..., lo:hi], axis=-1, out=sums[..., 1:])
    return (sums[..., ends - lo] - sums[..., begins - lo]) / (ends - begins)
