"""The one percentile every benchmark prints beside its min and median."""

from __future__ import annotations

from collections.abc import Iterable


def p95(values: Iterable[float]) -> float:
    """The 95th percentile, nearest rank (the maximum for fewer than 20 samples)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
