"""A count-level visit model without radio, for the pooled-district bench (bench/pooled_model.py).

It draws people, phones and Bluezone adopters, then the per-window and per-slot counts a
scanner would report under the device behaviour of docs/protocol.md (Android 15 s / 30 s bursts,
Doze every 540 s, iOS address rotation every ~15 min, per-window detection of iOS strata).
It shares the estimator's assumptions, so it checks the arithmetic and the variance model,
not the assumptions themselves: the replay-pipeline mode is the real test.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from scanner.wire.schema import Health, WindowReport

WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class Visit:
    kind: str
    adoption: float
    reports: list[WindowReport]
    headcount: int
    truth: float  # person-time weighted adoption among smartphone owners present
    truth_ios: float
    owners_t: float = 0.0  # smartphone-owner person-windows (truth's denominator)
    bluezone_t: float = 0.0  # Bluezone person-windows (truth's numerator)


@dataclass(slots=True)
class _Person:
    arrive: float
    leave: float
    phone: str | None  # "android" | "ios" | None
    bluezone: bool
    doze: bool
    phase: float
    ios_bg: bool
    silent: bool  # a Bluezone Android whose stack never advertises (docs/protocol.md §2.7)


def simulate_counts(
    kind: str,
    adoption: float,
    rng: random.Random,
    *,
    smartphone_share: float = 0.7,
    ios_share: float = 0.3,
    doze_share: float = 0.2,
    p_ios_fg: float = 0.95,
    p_ios_bg: float = 0.7,
    p_iphone: float = 0.95,
    minutes: int = 20,
    dwell_s: float | None = None,
) -> Visit:
    start = 1_597_633_200 + 900 * rng.randrange(0, 40)  # 2020-08-17 03:00Z + k slots
    dur = 60.0 * minutes
    people: list[_Person] = []
    if kind == "office":
        for _ in range(rng.randint(15, 120)):
            people.append(_person(rng, -600.0, dur + 600, smartphone_share, ios_share, adoption,
                                  doze_share))  # fmt: skip
    else:
        rate, dwell = (0.04, 1200.0) if kind == "market" else (0.03, 600.0)
        if dwell_s is not None:  # same crowd size at another mean stay
            rate, dwell = rate * dwell / dwell_s, dwell_s
        t = -3 * dwell
        while t < dur:
            t += rng.expovariate(rate)
            stay = rng.lognormvariate(math.log(dwell) - 0.18, 0.6)
            people.append(_person(rng, t, t + stay, smartphone_share, ios_share, adoption,
                                  doze_share))  # fmt: skip
    reports: list[WindowReport] = []
    seen_slot: set[int] = set()
    owners_t = bz_t = ios_t = ios_bz_t = 0.0
    heads = []
    for w in range(minutes):
        w0, w1 = w * WINDOW_S, (w + 1) * WINDOW_S
        if (start + w0) % 900 == 0:
            seen_slot = set()
        a = fg = bg = iph = present = 0
        for i, p in enumerate(people):
            lo, hi = max(w0, p.arrive), min(w1, p.leave)
            if hi <= lo:
                continue
            frac = (hi - lo) / WINDOW_S
            present += p.arrive <= (w0 + w1) / 2 < p.leave  # a head count is a snapshot
            if p.phone is None:
                continue
            owners_t += frac
            bz_t += frac * p.bluezone
            if p.phone == "ios":
                ios_t += frac
                ios_bz_t += frac * p.bluezone
                keys = 1 + (rng.random() < (hi - lo) / 900)  # address rotation in the window
                if rng.random() < p_iphone:
                    iph += keys
                if p.bluezone and rng.random() < (p_ios_bg if p.ios_bg else p_ios_fg):
                    bg += keys if p.ios_bg else 0
                    fg += 0 if p.ios_bg else keys
            elif p.bluezone and not p.silent and _burst_overlaps(p, lo, hi):
                a += 1
                seen_slot.add(i)
        heads.append(present)
        reports.append(
            WindowReport(
                node="bench", site=f"bench-{kind}", seq=w, window_start=start + w0,
                window_s=WINDOW_S,
                counts={"bluezone": {"android": a, "ios_fg": fg, "ios_bg": bg},
                        "iphone": {"all": iph}, "phone": {"en": 0}, "other": {"all": 0}},
                slot_counts={"bluezone": {"android": len(seen_slot)}},
                health=Health(scanned_s=60.0, adverts=1, mode="simulated", clock_synced=True),
            )
        )  # fmt: skip
    headcount = round(sum(heads) / len(heads))
    return Visit(
        kind, adoption, reports, headcount,
        bz_t / owners_t if owners_t else math.nan,
        ios_bz_t / ios_t if ios_t else math.nan, owners_t, bz_t,
    )  # fmt: skip


def _person(
    rng: random.Random, arrive: float, leave: float, s: float, q: float, a: float, d: float
) -> _Person:
    phone = None if rng.random() >= s else ("ios" if rng.random() < q else "android")
    return _Person(arrive, leave, phone, rng.random() < a, rng.random() < d,
                   rng.uniform(0, 540), rng.random() < 0.8, rng.random() < 0.03)  # fmt: skip


def _burst_overlaps(p: _Person, lo: float, hi: float) -> bool:
    """A 15 s burst every 30 s (awake) or every 540 s (Doze) overlapping [lo, hi)."""
    period = 540.0 if p.doze else 30.0
    k = math.floor((lo - p.phase - 15) / period) + 1
    return p.phase + k * period < hi
