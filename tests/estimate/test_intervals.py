"""Interval machinery: t quantiles, the ratio variance, the cluster bootstrap."""

from __future__ import annotations

import math
import random

import pytest

from scanner.estimation.intervals import Term, bootstrap_ci, log_bounds, ratio_ci, t_quantile


@pytest.mark.parametrize(
    ("df", "expected"), [(1, 12.706), (2, 4.303), (3, 3.182), (5, 2.571), (10, 2.228), (30, 2.042)]
)
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert t_quantile(0.95, df) == pytest.approx(expected, abs=0.01)


def test_design_variance_by_hand() -> None:
    terms = [Term(2, 10), Term(4, 10), Term(6, 10)]
    ci = ratio_ci(terms)
    # R = 0.4; n/(n-1) sum (num - R den)^2 / den^2 = 1.5 * 8 / 900
    assert ci.value == pytest.approx(0.4)
    assert ci.se == pytest.approx(math.sqrt(1.5 * 8 / 900))
    assert ci.variance == "clusters"
    f = math.exp(t_quantile(0.95, 2) * ci.se / 0.4)  # the half-width on the log scale
    assert ci.low == pytest.approx(0.4 / f) and 0.4 * f > 1 and ci.high == 1.0  # clipped


def test_log_bounds_are_symmetric_in_log_r() -> None:
    low, high = log_bounds(0.2, 0.1)
    assert low * high == pytest.approx(0.2**2)  # r / f and r f
    assert high - 0.2 > 0.2 - low > 0  # a low estimate's upper tail is the longer one
    assert log_bounds(0.0, 0.1) == (-0.1, 0.1)  # nothing seen: linear, the rule of three bounds it
    assert log_bounds(0.3, 0.0) == (0.3, 0.3)
    assert log_bounds(1e-9, 1.0) == (0.0, math.inf)  # no overflow


def test_low_estimates_get_the_longer_upper_tail() -> None:
    # Two clusters whose multiplicative error is the same: the interval of the lower ratio
    # reaches further above it than below.
    ci = ratio_ci([Term(1, 10, var_num=0.25), Term(1, 10, var_num=0.25)])
    assert ci.high - ci.value > ci.value - ci.low


def test_model_variance_wins_when_clusters_agree() -> None:
    terms = [Term(2, 10, var_num=1.0), Term(2, 10, var_num=1.0)]
    ci = ratio_ci(terms)
    assert ci.variance == "model"
    assert ci.se == pytest.approx(math.sqrt(2.0) / 20)


def test_relative_cv_widens() -> None:
    narrow = ratio_ci([Term(5, 10)])
    wide = ratio_ci([Term(5, 10)], rel_cv=0.1)
    assert narrow.se == 0 and wide.se == pytest.approx(0.05)


def test_zero_denominator_raises() -> None:
    with pytest.raises(ValueError):
        ratio_ci([Term(1, 0)])


def test_cluster_bootstrap_is_seeded_and_brackets_the_ratio() -> None:
    terms = [Term(n, 10) for n in (1, 3, 4, 5, 7, 2, 6)]
    a = bootstrap_ci(terms, rng=random.Random(7))
    b = bootstrap_ci(terms, rng=random.Random(7))
    assert a == b
    assert a[0] < 28 / 70 < a[1]
    with pytest.raises(ValueError):
        bootstrap_ci(terms[:1], rng=random.Random(1))
