"""The replica statistics against an example worked out by hand, and the t distribution
against published critical values and a numerical integration of its density."""

from __future__ import annotations

import math

import pytest

from aitrader.ledger.stats import p_beats, summarise, t_cdf, t_ppf


def test_the_worked_example() -> None:
    """Five replicas' cumulative returns 2%, 5%, 3%, 6%, 4%, by hand:
    mean 0.04; deviations -0.02, 0.01, -0.01, 0.02, 0 -> squares sum 0.001; s = sqrt(0.001 / 4)
    = 0.0158114; standard error s / sqrt(5) = 0.0070711; t(0.975, 4) = 2.776445 (tables);
    half-width 2.776445 x 0.0070711 = 0.0196324 -> [0.0203676, 0.0596324].
    Against a benchmark of 3%: t = 0.01 / 0.0070711 = 1.414214; one-sided p = P(T4 > 1.414214)
    = 0.11509 (tables: between 0.10 at t = 1.533 and 0.15 at t = 1.190)."""
    s = summarise([0.02, 0.05, 0.03, 0.06, 0.04])
    assert (s.n, s.minimum, s.maximum, s.method) == (5, 0.02, 0.06, "t-interval")
    assert s.mean == pytest.approx(0.04)
    assert s.low == pytest.approx(0.0203676, abs=1e-7)
    assert s.high == pytest.approx(0.0596324, abs=1e-7)
    assert p_beats([0.02, 0.05, 0.03, 0.06, 0.04], 0.03) == pytest.approx(0.11509, abs=1e-5)


def test_one_replica_has_no_interval_and_no_test() -> None:
    s = summarise([0.07])
    assert (s.n, s.mean, s.low, s.high) == (1, 0.07, None, None)
    assert p_beats([0.07], 0.01) is None
    assert p_beats([0.05, 0.05], 0.01) == 0.0 and p_beats([0.05, 0.05], 0.06) == 1.0


@pytest.mark.parametrize(("df", "critical"), [  # two-sided 95%: published t tables
    (1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045), (49, 2.010)])
def test_t_quantiles_match_the_tables(df: int, critical: float) -> None:
    assert t_ppf(0.975, df) == pytest.approx(critical, abs=5e-4)
    assert t_cdf(critical, df) == pytest.approx(0.975, abs=1e-4)
    assert t_cdf(-critical, df) == pytest.approx(0.025, abs=1e-4)


@pytest.mark.parametrize(("t", "df"), [(1.414214, 4), (0.3, 2), (2.5, 10), (-1.2, 7)])
def test_t_cdf_against_integrating_the_density(t: float, df: int) -> None:
    """Simpson's rule over the density from 0 to t, plus the half below 0."""
    def pdf(x: float) -> float:
        norm = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(
            df * math.pi)
        return norm * math.pow(1 + x * x / df, -(df + 1) / 2)

    steps = 2000
    h = t / steps
    area = pdf(0) + pdf(t) + sum((4 if k % 2 else 2) * pdf(k * h) for k in range(1, steps))
    assert t_cdf(t, df) == pytest.approx(0.5 + area * h / 3, abs=1e-9)
