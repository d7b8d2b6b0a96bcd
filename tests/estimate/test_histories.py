"""Capture-history estimators on hand-computed histograms, and histograms from the counter."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.ble.classify import Sighting
from scanner.counting.window import WindowCounter
from scanner.estimation.clusters import CaptureSums
from scanner.estimation.histories import measure

T0 = 1597039200  # 2020-08-10T06:00:00Z, a quarter-hour boundary
DOZE_BLOCK_S = 540  # Doze on/off steps of ~9 min (docs/protocol.md §2.7)


def _m(c: CaptureSums, **kw: float):  # type: ignore[no-untyped-def]
    return measure(c, window_s=60, min_pairs=kw.pop("min_pairs", 1), **kw)


def test_all_seen_every_window() -> None:
    # 4 phones seen in all 5 windows: seen f_5 = 4, lag1 = 4 x 4, lag2 = run3 = 4 x 3.
    c = CaptureSums(windows=5, pairs1=4, pairs2=3, detections=20, devices=4, lag1=16, lag2=12,
                    run3=12)  # fmt: skip
    m = _m(c, doze_block_s=DOZE_BLOCK_S)
    assert m is not None
    assert (m.p, m.awake, m.doze, m.turnover, m.present) == (1.0, 4.0, 0.0, 1.0, 4.0)
    assert m.variance > 0  # p = 1 on 12 pairs is not a certainty


def test_half_detection() -> None:
    # 40 phones present all 9 windows, each seen w.p. 1/2 (expected statistics): lag1 =
    # 40 x 8 / 4, lag2 = 40 x 7 / 4, run3 = lag2 / 2, detections = 40 x 9 / 2.
    c = CaptureSums(windows=9, pairs1=8, pairs2=7, detections=180, devices=40, lag1=80,
                    lag2=70, run3=35)  # fmt: skip
    m = _m(c, doze_block_s=DOZE_BLOCK_S)
    assert m is not None
    assert m.p == 0.5 and m.awake == pytest.approx(40) and m.turnover == pytest.approx(1)
    assert m.doze == pytest.approx(0) and m.present == pytest.approx(40)


def test_pure_turnover() -> None:
    # 7 windows; 2 phones arrive at each of windows 0..4 and stay 3 windows, always seen:
    # each gives 2 lag-1 pairs, 1 lag-2 pair, 1 run of 3. At the 6 boundaries 2, 4, 4, 4, 4, 2
    # phones are present: 20 / 6 at an instant. phi = (10/5) / (20/6) = 0.6.
    c = CaptureSums(windows=7, pairs1=6, pairs2=5, detections=30, devices=10, lag1=20, lag2=10,
                    run3=10)  # fmt: skip
    m = _m(c)
    assert m is not None
    assert m.p == 1.0 and m.present == pytest.approx(20 / 6)
    assert m.turnover == pytest.approx(1 - math.log(0.6))


def test_one_window_and_empty_histories_are_too_thin() -> None:
    one = CaptureSums(windows=1, pairs1=0, pairs2=0, detections=3, devices=3)
    assert _m(one) is None
    assert _m(CaptureSums()) is None
    few = CaptureSums(windows=15, pairs1=14, pairs2=13, detections=30, devices=2, lag1=28,
                      lag2=6, run3=6)  # fmt: skip
    assert _m(few, min_pairs=8) is None  # fewer than 8 lag-2 pairs: the priors are used


def test_address_rotation_is_undone() -> None:
    # A rotation every 15 windows cuts 1/15 of lag-1 pairs and 2/15 of lag-2 pairs.
    r = 60 / 900
    c = CaptureSums(windows=15, pairs1=14, pairs2=13, detections=150, devices=12,
                    lag1=round(10 * 14 * (1 - r)), lag2=round(10 * 13 * (1 - 2 * r)),
                    run3=round(10 * 13 * (1 - 2 * r)))  # fmt: skip
    m = _m(c, rotation_s=900)
    assert m is not None and m.present == pytest.approx(10, rel=0.02)


def _sight(key: bytes) -> Sighting:
    return Sighting(category="bluezone", stratum="android", key=key, rolling=True, rule="t",
                    counted=True)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=15, max_size=15), min_size=0, max_size=12))
def test_histograms_never_exceed_the_counts_they_summarise(presence: list[list[bool]]) -> None:
    c = WindowCounter(window_s=60, strata=[("bluezone", "android")])
    closed = c.start(T0)
    for w in range(15):
        for i, row in enumerate(presence):
            if row[w]:
                closed += c.add(T0 + 60 * w + 1 + i * 0.01, -50, [_sight(b"id%d" % i)])
        closed += c.advance(T0 + 60 * (w + 1))
    assert len(closed) == 15
    per_window = [w.counts["bluezone"]["android"] for w in closed]
    caps = [w.capture for w in closed if w.capture]
    seen_ids = sum(1 for row in presence if any(row))
    if not seen_ids:
        assert caps == [] or not caps[0].get("bluezone")
        return
    (cap,) = caps
    h = cap["bluezone"]["android"]
    assert h.devices == seen_ids == closed[-1].slot_counts["bluezone"]["android"]
    assert h.detections == sum(per_window)
    assert all(f <= h.devices for f in h.seen) and len(h.seen) == h.windows == 15
    assert h.lag1 <= sum(per_window) and h.lag2 <= sum(per_window) and h.run3 <= h.lag2
    want_lag1 = sum(a and b for row in presence for a, b in itertools.pairwise(row))
    assert h.lag1 == want_lag1


def test_k_min_withholds_histories_of_few_devices() -> None:
    c = WindowCounter(window_s=60, strata=[("bluezone", "android")], capture_k_min=3)
    closed = c.start(T0)
    for w in range(15):
        closed += c.add(T0 + 60 * w + 1, -50, [_sight(b"a"), _sight(b"b")])
    closed += c.advance(T0 + 900)
    assert closed[-1].slot_counts == {"bluezone": {"android": 2}}
    assert closed[-1].capture == {}  # 2 devices < k_min 3: no histogram


def test_gate_median_resists_fading() -> None:
    # A phone nominally 3 dB below a -90 dBm gate, 6 dB per-packet spread, 150 packets per
    # 15 s burst, is kept out in >= 95 % of windows; one 5 dB inside is kept in >= 95 %.
    rng = random.Random(20201)
    gate = -90
    kept = {-93: 0, -85: 0}
    n = 200
    for nominal in kept:
        c = WindowCounter(window_s=60, rssi_min_dbm=gate, strata=[("bluezone", "android")])
        closed = []
        for w in range(n):
            for k in range(150):
                t = T0 + 60 * w + 0.1 * k
                rssi = round(rng.gauss(nominal, 6))
                closed += c.add(t, rssi, [_sight(b"x%d" % (w // 15))])
        closed += c.close(T0 + 60 * n)
        kept[nominal] = sum(x.counts["bluezone"]["android"] for x in closed[:n])
        if nominal == -93:
            assert sum(x.near_gate for x in closed[:n]) >= 0.95 * n  # the leakage diagnostic
    assert kept[-93] <= 0.05 * n
    assert kept[-85] >= 0.95 * n


def _history(masks: list[int], n: int) -> CaptureSums:
    ls = (1 << n) - 1
    seen = [m.bit_count() for m in masks if m]
    return CaptureSums(
        windows=n, pairs1=n - 1, pairs2=n - 2, detections=sum(seen), devices=len(seen),
        lag1=sum((m & m >> 1).bit_count() for m in masks),
        lag2=sum((m & m >> 2 & ls >> 1).bit_count() for m in masks),
        run3=sum((m & m >> 1 & m >> 2).bit_count() for m in masks),
        singles=seen.count(1),
    )  # fmt: skip


def _dozing(rng: random.Random, n: int) -> int:
    # On and off for 480-600 s steps at a random phase (docs/protocol.md §2.7); seen in a
    # 60 s window when on at any time in it.
    t, on, mask = -rng.uniform(0, 600), rng.random() < 0.5, 0
    while t < 60 * n:
        step = rng.uniform(480, 600)
        if on:
            for w in range(max(0, int(t // 60)), min(n, math.ceil((t + step) / 60))):
                mask |= 1 << w
        on, t = not on, t + step
    return mask


@pytest.mark.parametrize("n", [15, 10])
def test_dozing_phones_off_air_are_added_by_the_doze_share(n: int) -> None:
    # A stable office: 10 awake phones seen in every window, 10 in Doze, over 200 slots. At an
    # instant only ~15 are on air; with a Doze share of 1/2, N = 15 / (1 - 1/4) = 20, and the
    # Doze steps' ends are not read as departures.
    rng = random.Random(3)
    total = CaptureSums()
    for _ in range(200):
        total = total + _history([(1 << n) - 1] * 10 + [_dozing(rng, n) for _ in range(10)], n)
    m = _m(total, doze_block_s=DOZE_BLOCK_S, doze_share=0.5, min_pairs=8)
    assert m is not None
    assert m.present == pytest.approx(20, rel=0.05)
    assert m.doze == pytest.approx(10, rel=0.05) and m.turnover == pytest.approx(1, abs=0.01)
    assert _m(total, doze_block_s=DOZE_BLOCK_S, min_pairs=8).present == pytest.approx(15, rel=0.05)  # type: ignore[union-attr]
