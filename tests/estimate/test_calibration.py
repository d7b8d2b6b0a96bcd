"""Calibration visits: the ratio estimator of the gate's net loss, hand-computed, and its use."""

from __future__ import annotations

import math

import pytest

from scanner.estimation.calibration import (
    MIN_VISITS,
    CalibrationVisit,
    calibrate_gate,
    uncorrected,
    with_calibration,
)
from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.devices import devices
from scanner.estimation.params import DEFAULT_PARAMS, for_site_type


def _visits(pairs: list[tuple[float, float]]) -> list[CalibrationVisit]:
    return [CalibrationVisit(f"s{i}", e, s) for i, (e, s) in enumerate(pairs)]


def test_ratio_and_standard_error_by_hand() -> None:
    # 10 visits: estimated 8, 6 (five each) against shown 10, 10: R = 70 / 100 = 0.7.
    cal = calibrate_gate(_visits([(8, 10)] * 5 + [(6, 10)] * 5))
    assert cal is not None
    assert cal.ratio == pytest.approx(0.7)
    assert cal.gate_loss == pytest.approx(0.3)
    # residuals e - R s = +1 (five) and -1 (five): se = sqrt(10/9 * 10) / 100
    assert cal.se == pytest.approx(math.sqrt(10 / 9 * 10) / 100)
    assert cal.visits == 10


def test_every_phone_seen_gives_no_loss_and_no_error() -> None:
    cal = calibrate_gate(_visits([(float(k), float(k)) for k in range(1, 11)]))
    assert cal is not None
    assert (cal.ratio, cal.gate_loss, cal.se) == (pytest.approx(1.0), pytest.approx(0.0), 0.0)


def test_too_few_visits_or_nobody_shown_keep_the_prior() -> None:
    assert calibrate_gate(_visits([(8, 10)] * (MIN_VISITS - 1))) is None
    assert calibrate_gate(_visits([(3, 0)] * 20)) is None  # nobody to compare with
    assert calibrate_gate([]) is None
    assert with_calibration(DEFAULT_PARAMS, None) is DEFAULT_PARAMS


def test_outside_phones_passing_give_a_negative_loss_within_bounds() -> None:
    over = calibrate_gate(_visits([(12, 10)] * 10))
    assert over is not None and over.gate_loss == pytest.approx(-0.2)
    wild = calibrate_gate(_visits([(40, 10)] * 10))
    assert wild is not None and wild.gate_loss == -0.5  # a misfit is bounded, not followed
    nothing = calibrate_gate(_visits([(0, 10)] * 10))
    assert nothing is not None and nothing.gate_loss == 0.9


def test_measured_loss_replaces_the_prior_with_its_source_and_widened_spread() -> None:
    cal = calibrate_gate(_visits([(8, 10)] * 5 + [(6, 10)] * 5))
    p = with_calibration(DEFAULT_PARAMS, cal)
    assert p.gate_loss.value == pytest.approx(0.3)
    assert "10 calibration visits" in p.gate_loss.source
    assert cal is not None
    assert p.gate_loss_sd.value == pytest.approx(
        math.hypot(DEFAULT_PARAMS.gate_loss_sd.value, cal.se)
    )


def _cluster(android_win: int) -> ClusterTotals:
    return ClusterTotals(site="s", node="n", day=0, windows=20, used=20, excl_clock=0,
                         excl_coverage=0, window_s_sum=1200.0, android_win=android_win)  # fmt: skip


def test_counts_scale_by_the_measured_factor_and_a_negative_loss_adds_no_variance() -> None:
    c = _cluster(200)
    raw = devices(c, uncorrected(DEFAULT_PARAMS))
    for loss in (0.3, -0.2):
        p = DEFAULT_PARAMS.override("test", gate_loss=loss)
        d = devices(c, p)
        assert d.android == pytest.approx(raw.android / (1 - loss))
        assert d.var_android >= 0
    under = devices(c, DEFAULT_PARAMS.override("t", gate_loss=-0.2, gate_loss_sd=0.0))
    assert under.var_android == pytest.approx(raw.var_android / 1.2**2)


def test_gate_misses_average_over_the_sets_of_people_a_visit_sees() -> None:
    # Which phones the gate misses is a draw per phone: at an office (one set of people) it adds
    # N g once; at a market (mean stay 1200 s, 20 windows of 60 s: 1 + 20 * 60/1200 = 2 sets)
    # it averages over the two sets, N g / 2.
    c = _cluster(200)
    k = 1 / (1 - 0.3)
    for kind, sets in (("office", 1.0), ("market", 2.0)):
        p = for_site_type(DEFAULT_PARAMS.override("t", gate_loss_sd=0.0), kind)
        none = devices(c, p.override("t", gate_loss=0.0))
        lossy = devices(c, p.override("t", gate_loss=0.3))
        added = lossy.var_android - none.var_android * k * k
        assert added == pytest.approx(lossy.android * (k - 1) / sets)
