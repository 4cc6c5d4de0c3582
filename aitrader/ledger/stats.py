"""Statistics over repeated runs of one model (issue 14): the mean and a 95% confidence
interval of a figure (cumulative return, Sharpe) over K replicas, its spread, and a one-sided
test of "the model beats the benchmark".

Method: Student's t. The interval is mean +- t(0.975, K-1) x s / sqrt(K), with s the sample
standard deviation (K - 1); the test is the one-sample t-test of the replicas' figure against
the benchmark's (one number: the benchmark is deterministic), H1: mean > benchmark, p =
P(T_{K-1} > t). It assumes the replicas' figures are roughly normal and independent; with few
replicas (K < 5) the interval is wide, as it should be. K = 1 has no interval and no test.
What it does not cover: the market regime. The replicas share one price history, so the
interval says how much the model's own sampling varies on that history, not how it would do
on another period.

The t distribution is computed here (the regularised incomplete beta function by its
continued fraction, and bisection for quantiles) rather than adding scipy for two functions;
tests check it against published critical values and numerical integration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

LEVEL = 0.95
METHOD = "t-interval"


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_ppf(p: float, df: float) -> float:
    """The t with P(T <= t) = p (bisection on the CDF)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1")
    lo, hi = -1e3, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


@attrs.frozen
class Summary:
    """A figure over K replicas."""

    n: int
    mean: float
    low: float | None  # the 95% interval; None when n = 1
    high: float | None
    minimum: float
    maximum: float
    method: str = METHOD


def summarise(xs: Sequence[float], level: float = LEVEL) -> Summary:
    if not xs:
        raise ValueError("no values")
    n = len(xs)
    mean = sum(xs) / n
    if n == 1:
        return Summary(1, mean, None, None, xs[0], xs[0])
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_ppf(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, mean - half, mean + half, min(xs), max(xs))


def p_beats(xs: Sequence[float], benchmark: float) -> float | None:
    """One-sided p-value of "the mean is above `benchmark`" (None for a single replica)."""
    n = len(xs)
    if n < 2:
        return None
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    if sd == 0.0:  # every replica the same: certain either way
        return 0.0 if mean > benchmark else 1.0
    t = (mean - benchmark) / (sd / math.sqrt(n))
    return 1.0 - t_cdf(t, n - 1)
