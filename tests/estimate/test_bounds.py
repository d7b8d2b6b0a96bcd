"""Every estimate and bound lies in [0, 1], whatever the cluster totals (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.methods import Method, estimate
from scanner.estimation.params import DEFAULT_PARAMS

_n = st.integers(min_value=0, max_value=400)


@st.composite
def clusters(draw: st.DrawFn) -> ClusterTotals:
    used = draw(st.integers(min_value=0, max_value=60))
    windows = used + draw(st.integers(min_value=0, max_value=5))
    return ClusterTotals(
        site=draw(st.sampled_from(["a", "b"])), node="n", day=0,
        windows=windows, used=used, excl_clock=windows - used, excl_coverage=0,
        window_s_sum=60.0 * used, ios_fg=draw(_n), ios_bg=draw(_n), iphone=draw(_n),
        phone=draw(_n), android_win=draw(st.integers(min_value=0, max_value=4000)),
        headcount=draw(st.none() | st.floats(min_value=0, max_value=300)),
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(clusters(), min_size=0, max_size=4), st.sampled_from(list(Method)))
def test_estimates_and_bounds_in_unit_interval(cs: list[ClusterTotals], m: Method) -> None:
    e = estimate(m, cs, DEFAULT_PARAMS)
    for v in (e.value, e.low, e.high):
        assert v is None or 0.0 <= v <= 1.0
    if e.value is not None:
        assert e.low is not None and e.high is not None and e.low <= e.value <= e.high
        if e.raw is not None and e.raw > 1.0:
            assert e.misfit is not None  # a raw ratio above 1 is reported with its reason


def test_raw_ratio_above_one_is_a_misfit_not_139_percent() -> None:
    # The reported case: more Bluezone phones than the head count's smartphone owners.
    c = ClusterTotals("s", "n", 0, 20, 20, 0, 0, 1200.0, android_win=20 * 14, headcount=10.0)
    e = estimate(Method.HEADCOUNT, [c], DEFAULT_PARAMS)
    assert e.value == 1.0 and e.high == 1.0 and e.raw is not None and e.raw > 1.0
    assert e.misfit is not None and "head count" in e.misfit
