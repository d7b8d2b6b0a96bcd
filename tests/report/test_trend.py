"""Trend against the target: weighted fit and projected date."""

from __future__ import annotations

from datetime import date, timedelta

from aggregator.report.trend import fit_trend

D0 = date(2020, 8, 10)


def _pts(values: list[float]) -> list[tuple[date, float | None, float | None]]:
    return [(D0 + timedelta(days=i), v, 0.02) for i, v in enumerate(values)]


def test_linear_rise_projects_the_day_the_line_crosses() -> None:
    # 10 % + 5 pp/day reaches 50 % on day 8 = 2020-08-18.
    tr = fit_trend(_pts([0.10, 0.15, 0.20, 0.25]), 0.5, date(2020, 8, 20))
    assert tr.status == "on_track"
    assert tr.projected == date(2020, 8, 18)
    assert abs((tr.slope_per_day or 0) - 0.05) < 1e-9


def test_too_slow_is_rising_but_late() -> None:
    tr = fit_trend(_pts([0.10, 0.11, 0.12]), 0.5, date(2020, 8, 20))
    assert tr.status == "rising" and tr.projected is not None and tr.projected > date(2020, 8, 20)


def test_reached_flat_and_too_few_days() -> None:
    assert fit_trend(_pts([0.55, 0.60]), 0.5).status == "reached"
    assert fit_trend(_pts([0.30, 0.30, 0.29]), 0.5).status == "not_rising"
    assert fit_trend(_pts([0.30]), 0.5).status == "not_enough_data"
    assert fit_trend(_pts([]), 0.5).status == "not_enough_data"


def test_barely_rising_gives_no_date_instead_of_overflowing() -> None:
    # +1e-7 per day would reach 50 % in ~10 million years: no date (and none representable).
    tr = fit_trend(_pts([0.2, 0.2000001, 0.2000002]), 0.5, date(2020, 8, 20))
    assert tr.status == "too_slow" and tr.projected is None
