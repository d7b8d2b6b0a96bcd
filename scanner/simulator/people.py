"""Who is on site when, carrying what: the simulator's population model (pure, seeded).

Offices have a fixed staff (each present on the day with `staff_presence`, stepping out now and
then) plus a few visitors; markets and counters have Poisson arrivals with lognormal dwell. Every
person may carry a smartphone (Android or iPhone, Bluezone or not, in one of the app states of
docs/protocol.md §2) and accessories. People beyond the site (passers-by) carry the same kinds of
phones but stand outside its radius, where the RSSI gate should drop them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from scanner.simulator.model import Scenario

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Person:
    """One visit (or one staff member's day): never an identifier, only what truth needs."""

    index: int
    intervals: tuple[Interval, ...]
    distance_m: float
    onsite: bool
    phone: str  # "none" | "android" | "iphone"
    bluezone: bool
    stratum: str  # android | android_v1 | android_silent | ios_fg | ios_bg | ios_silent | ""
    doze: bool = False
    companion: bool = False
    ios_rsp: bool = False  # background overflow area only in the scan response
    other_bg_apps: int = 0
    samsung_adv: bool = False
    watch: bool = False
    earbuds: bool = False
    airtag: bool = False

    @property
    def arrive(self) -> float:
        return self.intervals[0][0]

    @property
    def leave(self) -> float:
        return self.intervals[-1][1]


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _poisson_times(rng: random.Random, rate_per_h: float, a: float, b: float) -> list[float]:
    out: list[float] = []
    if rate_per_h <= 0:
        return out
    t = a
    while True:
        t += rng.expovariate(rate_per_h / 3600.0)
        if t >= b:
            return out
        out.append(t)


def _minus_absences(
    rng: random.Random, a: float, b: float, per_hour: float, median_s: float
) -> tuple[Interval, ...]:
    """[a, b) with a Poisson number of lognormal absences (meetings, lunch, errands) cut out."""
    cuts = sorted(
        (s, s + _lognormal(rng, median_s, 0.7)) for s in _poisson_times(rng, per_hour, a, b)
    )
    out: list[Interval] = []
    t = a
    for s, e in cuts:
        if s > t:
            out.append((t, s))
        t = max(t, e)
    if t < b:
        out.append((t, b))
    return tuple(out) or ((a, a),)


def _clip(a: float, b: float, lo: float, hi: float) -> tuple[Interval, ...]:
    return ((max(a, lo), min(b, hi)),)


def population(sc: Scenario, rng: random.Random, start: float, end: float) -> list[Person]:
    """Everyone whose presence overlaps [start, end), on site and passing by, in a fixed order."""
    specs: list[tuple[tuple[Interval, ...], bool]] = []
    if sc.kind == "office":
        for _ in range(sc.staff):
            if rng.random() < sc.staff_presence:
                ivs = _minus_absences(rng, start, end, sc.absences_per_hour, sc.absence_median_s)
                specs.append((ivs, True))
        rate = sc.visitors_per_hour
    else:
        rate = sc.arrivals_per_hour
    # Start arrivals well before `start` so the site is in steady state when the capture begins.
    warm = 4.0 * sc.dwell_median_s * math.exp(sc.dwell_sigma**2 / 2)
    for t in _poisson_times(rng, rate, start - warm, end):
        stay = _lognormal(rng, sc.dwell_median_s, sc.dwell_sigma)
        if t + stay > start:
            specs.append((_clip(t, t + stay, start, end), True))
    warm_out = 4.0 * sc.passersby_dwell_s
    for t in _poisson_times(rng, sc.passersby_per_hour, start - warm_out, end):
        stay = rng.expovariate(1.0 / sc.passersby_dwell_s)
        if t + stay > start:
            specs.append((_clip(t, t + stay, start, end), False))
    return [_person(sc, rng, i, ivs, onsite) for i, (ivs, onsite) in enumerate(specs)]


def _person(
    sc: Scenario, rng: random.Random, index: int, ivs: tuple[Interval, ...], onsite: bool
) -> Person:
    if onsite:
        distance = max(0.7, sc.radius_m * math.sqrt(rng.random()))  # uniform over the floor
    else:
        distance = rng.uniform(*sc.passersby_distance_m)
    extras = {
        "watch": rng.random() < sc.watch_share,
        "earbuds": rng.random() < sc.earbuds_share,
        "airtag": rng.random() < sc.airtag_share,
    }
    if rng.random() >= sc.smartphone_share:
        return Person(index, ivs, distance, onsite, "none", False, "", **extras)
    if rng.random() < sc.ios_share:
        bz = rng.random() < sc.adoption_ios
        rsp = rng.random() < sc.ios_bg_scan_rsp_share
        others = rng.choice((1, 1, 2, 3)) if rng.random() < sc.iphone_other_bg_apps_share else 0
        stratum = ""
        if bz:
            if rng.random() < sc.ios_fg_share:
                stratum = "ios_fg"
            elif rng.random() < sc.ios_bg_silent_share:
                stratum = "ios_silent"  # suspended or killed in the background: sends nothing
            else:
                stratum = "ios_bg"
        return Person(
            index,
            ivs,
            distance,
            onsite,
            "iphone",
            bz,
            stratum,
            ios_rsp=rsp,
            other_bg_apps=others,
            **extras,
        )
    bz = rng.random() < sc.adoption_android
    stratum = ""
    doze = companion = False
    if bz:
        if rng.random() < sc.android_no_adv_share:
            stratum = "android_silent"  # no LE advertiser: Bluezone runs scan-only (§2.7)
        elif rng.random() < sc.android_v1_share:
            stratum = "android_v1"
        else:
            stratum = "android"
            companion = rng.random() < sc.android_v307_share
        doze = rng.random() < sc.android_doze_share
    samsung = not bz and rng.random() < sc.android_samsung_adv_share
    return Person(
        index,
        ivs,
        distance,
        onsite,
        "android",
        bz,
        stratum,
        doze=doze,
        companion=companion,
        samsung_adv=samsung,
        **extras,
    )
