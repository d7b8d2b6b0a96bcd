"""Each estimator on hand-computed cases, including the edge cases of issue 6."""

from __future__ import annotations

import math

import pytest

from scanner.estimation.estimate import (  # the re-exporting facade
    clusters_from_reports,
    estimate,
    format_estimate,
    slot_detection,
    visit_summary,
)
from scanner.estimation.intervals import t_quantile
from scanner.estimation.params import DEFAULT_PARAMS, for_site_type
from tests.estimate.factory import T0, window

# Perfect detection, no Doze, Android from slot counts: the arithmetic is easy to follow by hand.
EXACT = DEFAULT_PARAMS.override(
    "test", android_doze_share=0.0, p_ios_fg=1.0, p_ios_bg=1.0, p_iphone=1.0,
    android_slot_counts=1.0, android_advertising=1.0, detection_cv=0.0,
    smartphone_share_cv=0.0, prior_detection_cv=0.0, gate_loss=0.0, gate_loss_sd=0.0,
    android_advertising_sd=0.0, ios_bg_advertising_sd=0.0,
)  # fmt: skip
# The arithmetic of the priors, without the widening an assumed share or prior detection adds
# by default (tested on their own in test_histories.py and test_bounds.py).
SLOTS = DEFAULT_PARAMS.override(
    "test", android_slot_counts=1.0, smartphone_share_cv=0.0, prior_detection_cv=0.0,
    gate_loss=0.0, gate_loss_sd=0.0, android_advertising_sd=0.0, ios_bg_advertising_sd=0.0,
)  # fmt: skip
Z95 = 1.959963984540054


def test_slot_detection_mixes_awake_and_doze_cycles() -> None:
    # 92.5 % advertise at all; 75 % awake: (60+15)/30 >= 1 -> 1; 25 % in Doze, on or off for
    # ~9 min steps: on at some time in 60 s w.p. 1/2 + 60/1080.
    want = 0.925 * (0.75 + 0.25 * (0.5 + 60 / 1080))
    assert slot_detection(60, DEFAULT_PARAMS) == pytest.approx(want)
    # Less than one awake period: an interval of 5 s overlaps a 15 s burst with p (5+15)/30.
    assert slot_detection(5, EXACT) == pytest.approx(20 / 30)


def test_headcount_single_window_by_hand() -> None:
    w = window(android=2, slot_android=3, ios_fg=1, iphone=4, headcount=10)
    e = estimate("headcount", clusters_from_reports([w], EXACT), EXACT)
    rot = 1 + 60 / 900  # iOS address rotation: 1 + W/T keys per present device
    bz = 3 + 1 / rot  # Android from the slot count (p = 1), iOS per window / rotation
    den = 10 * 0.7
    r = bz / den
    se = math.sqrt(r * r * den * 0.3) / den  # binomial ownership Var(M) = H s (1-s)
    assert e.value == pytest.approx(r)
    # The half-width Z95 se applies on the log scale: r / f .. r f, f = exp(Z95 se / r).
    f = math.exp(Z95 * se / r)
    assert e.low == pytest.approx(r / f)
    assert e.high == pytest.approx(r * f)
    assert (e.clusters, e.windows, e.variance) == (1, 1, "model")


def test_android_detection_correction_divides_slot_count() -> None:
    w = window(slot_android=4, headcount=20)
    c = clusters_from_reports([w], SLOTS)
    e = estimate("headcount", c, SLOTS)
    p = 0.925 * (0.75 + 0.25 * (0.5 + 60 / 1080))
    assert e.bluezone == pytest.approx(4 / p)
    assert e.value == pytest.approx(4 / p / (20 * 0.7))


def test_default_android_count_is_per_window_over_window_detection() -> None:
    ws = [window(i, android=n, slot_android=9, headcount=20) for i, n in enumerate([4, 5, 6])]
    e = estimate("headcount", clusters_from_reports(ws), DEFAULT_PARAMS)
    # One 60 s window: awake phones seen, dozing ones when in an "on" step; the gate's prior
    # net loss of on-site phones divides too.
    p = 0.925 * (0.75 + 0.25 * (0.5 + 60 / 1080)) * (1 - 0.25)
    assert e.bluezone == pytest.approx(5 / p)


def test_turnover_at_markets_divides_window_counts_by_one_plus_w_over_dwell() -> None:
    ws = [window(i, android=5, ios_bg=2, iphone=6, headcount=20) for i in range(3)]
    plain = DEFAULT_PARAMS.override(
        "t",
        android_doze_share=0.0,
        p_ios_bg=1.0,
        p_iphone=1.0,
        android_advertising=1.0,
        gate_loss=0.0,
    )
    market = for_site_type(plain, "market")
    assert market.dwell_s.value == 1200 and "dwell_market_s" in market.dwell_s.source
    assert for_site_type(plain, "office") is plain
    e = estimate("headcount", clusters_from_reports(ws), market)
    turn = 1 + 60 / 1200
    rot = 1 + 60 / 900
    assert e.bluezone == pytest.approx(5 / turn + 2 / (rot * turn))
    ios = estimate("ios_internal", clusters_from_reports(ws), market)
    assert ios.value == pytest.approx(2 / 6)  # turnover cancels in the ratio


def test_slot_count_is_taken_once_per_slot_not_summed_over_windows() -> None:
    # Cumulative distinct IDs 2, 3, 3 in one slot: 3 phones, not 8.
    ws = [window(i, slot_android=n, headcount=10) for i, n in enumerate([2, 3, 3])]
    e = estimate("headcount", clusters_from_reports(ws, EXACT), EXACT)
    assert e.bluezone == pytest.approx(3)


def test_slots_are_averaged_weighted_by_listening_time() -> None:
    # 15 windows fill slot 1 (3 phones), 5 windows of slot 2 (6 phones): (900*3 + 300*6)/1200.
    ws = [window(i, slot_android=3, headcount=10) for i in range(15)]
    ws += [window(15 + i, slot_android=6, headcount=10) for i in range(5)]
    e = estimate("headcount", clusters_from_reports(ws, EXACT), EXACT)
    assert e.bluezone == pytest.approx((900 * 3 + 300 * 6) / 1200)


def test_no_phones_gives_zero_with_rule_of_three_upper_bound() -> None:
    ws = [window(i, headcount=10) for i in range(5)]
    e = estimate("headcount", clusters_from_reports(ws, EXACT), EXACT)
    assert (e.value, e.low) == (0.0, 0.0)
    assert e.high == pytest.approx(3 / 7)


def test_zero_headcount_is_not_estimable() -> None:
    ws = [window(i, slot_android=1, headcount=0) for i in range(3)]
    e = estimate("headcount", clusters_from_reports(ws, EXACT), EXACT)
    assert e.value is None and e.low is None
    assert e.reason == "not enough data: head count is zero"
    assert format_estimate(e) == e.reason


def test_missing_headcount_falls_back_on_registry_staff_count() -> None:
    ws = [window(i, android=7, slot_android=7) for i in range(3)]
    cl = clusters_from_reports(ws, EXACT)
    assert estimate("headcount", cl, EXACT).reason is not None
    e = estimate("headcount", cl, EXACT, staff={"s1": 20})
    assert e.value == pytest.approx(7 / 14)


def test_all_windows_excluded_is_not_estimable_and_counted() -> None:
    ws = [window(i, slot_android=3, headcount=10, scanned_s=10) for i in range(4)]
    ws.append(window(4, slot_android=3, headcount=10, clock_synced=False))
    for method in ("headcount", "ios_internal", "ble_denominator"):
        e = estimate(method, clusters_from_reports(ws, EXACT), EXACT)
        assert e.value is None
        assert e.reason == "not enough data: no usable windows"
        assert e.excluded == {"clock": 1, "coverage": 4}


def test_no_windows_at_all() -> None:
    e = estimate("headcount", [], EXACT)
    assert e.reason == "not enough data: no windows"


def test_unknown_clock_is_kept_false_clock_excluded() -> None:
    ws = [window(0, iphone=2, clock_synced=None), window(1, iphone=2, clock_synced=False)]
    (c,) = clusters_from_reports(ws, EXACT)
    assert (c.used, c.excl_clock, c.excl_coverage) == (1, 1, 0)


def test_ios_internal_by_hand() -> None:
    ws = [window(i, ios_bg=1 if i < 2 else 0, iphone=8) for i in range(4)]
    p = EXACT.override("test", p_ios_bg=0.5)
    e = estimate("ios_internal", clusters_from_reports(ws, p), p)
    # Rotation cancels: (2 / 0.5) / 32 over 4 windows.
    assert e.value == pytest.approx((2 / 0.5) / 32)


def test_ios_internal_without_iphones_is_not_estimable() -> None:
    e = estimate("ios_internal", clusters_from_reports([window(android=3)], EXACT), EXACT)
    assert e.reason == "not enough data: no iPhones seen"


def test_ble_denominator_by_hand() -> None:
    ws = [window(i, android=4, slot_android=4, ios_fg=1, iphone=3) for i in range(15)]
    e = estimate("ble_denominator", clusters_from_reports(ws, EXACT), EXACT)
    rot = 1 + 60 / 900
    bz = 4 + 1 / rot
    smartphones = (3 / rot) / 0.3
    assert e.value == pytest.approx(bz / smartphones)


def test_clusters_split_by_site_node_and_utc_day() -> None:
    ws = [window(0, site="a"), window(0, site="b"), window(0, node="n2"), window(0)]
    ws.append(window(0, start=T0 + 86_400))
    cl = clusters_from_reports(ws, EXACT)
    pairs = [(c.site, c.node) for c in cl]
    assert pairs == [("a", "n1"), ("b", "n1"), ("s1", "n1"), ("s1", "n1"), ("s1", "n2")]
    assert cl[3].day - cl[2].day == 86_400


def test_two_visits_use_between_cluster_variance() -> None:
    a = [window(i, slot_android=2, headcount=10, node="a") for i in range(5)]
    b = [window(i, slot_android=6, headcount=10, node="b") for i in range(5)]
    e = estimate("headcount", clusters_from_reports(a + b, EXACT), EXACT)
    assert e.value == pytest.approx(8 / 14)
    assert e.variance == "clusters" and e.clusters == 2
    # t with 1 df: very wide; the upper bound is clipped, the lower one stays just above 0.
    r = 8 / 14
    se = math.sqrt(2 * ((2 - 7 * r) ** 2 + (6 - 7 * r) ** 2) / 14**2)
    assert e.low == pytest.approx(r / math.exp(t_quantile(0.95, 1) * se / r))
    assert 0.0 < e.low < 0.01 and e.high == 1.0


def test_per_site_params_override_smartphone_share() -> None:
    ws = [window(i, slot_android=3, headcount=10) for i in range(3)]
    half = EXACT.override("sites.yaml", smartphone_share=0.5)
    e = estimate("headcount", clusters_from_reports(ws, EXACT), lambda site: half)
    assert e.value == pytest.approx(3 / 5)


def test_visit_summary_uses_inspector_headcount() -> None:
    ws = [window(i, android=3, slot_android=3, headcount=None) for i in range(10)]
    s = visit_summary(ws, headcount=6, params=EXACT)
    hc = s.estimates[0]
    assert hc.method == "headcount" and hc.value == pytest.approx(3 / (6 * 0.7))
    assert s.windows == 10 and s.used == 10
    text = "\n".join(s.lines())
    assert "headcount" in text and "71.4 %" in text
    assert "no iPhones seen" in text


def test_visit_summary_of_nothing() -> None:
    s = visit_summary([], headcount=5)
    assert s.windows == 0 and all(e.value is None for e in s.estimates)


def test_visit_summary_applies_site_type_turnover() -> None:
    ws = [window(i, android=4) for i in range(5)]
    office = visit_summary(ws, headcount=10, params=EXACT.override("t", android_slot_counts=0.0))
    market = visit_summary(
        ws, headcount=10, params=EXACT.override("t", android_slot_counts=0.0), site_type="market"
    )
    assert office.bluezone == pytest.approx(4)
    assert market.bluezone == pytest.approx(4 / (1 + 60 / 1200))
    assert market.headcount == 10
