"""Intervals and tests: percentile bootstrap over items, the paired bootstrap and McNemar's exact test."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

RESAMPLES = 2000
CONFIDENCE = 0.95


class Estimate(BaseModel):
    """A figure, its 95 % bootstrap interval, and the count behind it (items; `of` what when it is a ratio of
    judgments)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0


def ratio(numerators: Sequence[float], denominators: Sequence[float] | None = None, *,
          seed: int = 0) -> Estimate:
    """sum(numerators) / sum(denominators) over items, with an interval from resampling the items (each item's
    numerator and denominator together, so items with more judgments weigh more, as in the figure itself).
    Without denominators: the mean of `numerators`."""
    top = np.asarray(numerators, dtype=float)
    bottom = np.ones_like(top) if denominators is None else np.asarray(denominators, dtype=float)
    if top.size == 0 or bottom.sum() == 0:
        return Estimate(value=None, n=int(top.size))
    value = float(top.sum() / bottom.sum())
    picks = np.random.default_rng(seed).integers(0, top.size, size=(RESAMPLES, top.size))
    sums = bottom[picks].sum(axis=1)
    resampled = np.divide(top[picks].sum(axis=1), sums, out=np.full(RESAMPLES, np.nan), where=sums > 0)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(resampled, [tail, 100 - tail])
    return Estimate(value=round(value, 4), low=round(float(low), 4), high=round(float(high), 4), n=int(top.size))


class PairedTest(BaseModel):
    """B minus A on the same items: the difference, its paired-bootstrap interval and p-value, and McNemar's
    exact p-value on the items where exactly one of the two was right."""

    n: int
    a: float | None
    b: float | None
    difference: Estimate
    p_bootstrap: float | None
    only_a_right: int
    only_b_right: int
    p_mcnemar: float | None


def paired_test(a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> PairedTest:
    """`a` and `b`: per-item correctness (1, 0, or 0.5 for a tie) of two judges, item by item in the same order."""
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.shape != second.shape:
        raise ValueError("paired_test needs the same items in both runs")
    only_a, only_b = int(((first == 1) & (second == 0)).sum()), int(((first == 0) & (second == 1)).sum())
    if first.size == 0:
        return PairedTest(n=0, a=None, b=None, difference=Estimate(value=None), p_bootstrap=None,
                          only_a_right=0, only_b_right=0, p_mcnemar=None)
    gaps = second - first
    difference = ratio(list(gaps), seed=seed)
    picks = np.random.default_rng(seed).integers(0, gaps.size, size=(RESAMPLES, gaps.size))
    means = gaps[picks].mean(axis=1)
    # Two-sided: how often the resampled difference lands on the other side of zero, doubled.
    p_bootstrap = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    return PairedTest(n=int(gaps.size), a=round(float(first.mean()), 4), b=round(float(second.mean()), 4),
                      difference=difference, p_bootstrap=round(p_bootstrap, 4), only_a_right=only_a,
                      only_b_right=only_b, p_mcnemar=mcnemar_exact(only_a, only_b))


def mcnemar_exact(only_a: int, only_b: int) -> float | None:
    """Two-sided exact McNemar test: under no difference, each discordant item goes either way with p = 1/2."""
    discordant = only_a + only_b
    if discordant == 0:
        return None
    tail = sum(math.comb(discordant, k) for k in range(min(only_a, only_b) + 1)) / float(2**discordant)
    return min(1.0, 2 * tail)
