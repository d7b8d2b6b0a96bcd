"""Per-cluster sums over WindowReports and the window exclusion rules (pure).

A **cluster** is one node's windows at one site on one UTC day (a visit, or a fixed node's day).
Windows of a cluster share people and phones, so all averaging between windows happens inside
a cluster and intervals treat clusters as the units (docs/method.md). These rules live here
once: the aggregator's SQL computes only the raw sums below and hands them to the same code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams
from scanner.wire.codec import captures_from_obj
from scanner.wire.schema import SLOT_SECONDS, SlotCapture, WindowReport

DAY_SECONDS = 86_400
# Capture-history strata the estimators use: (category, stratum) on the wire -> name here.
CAPTURE_STRATA: dict[tuple[str, str], str] = {
    ("bluezone", "android"): "android",
    ("bluezone", "android_v1"): "android_v1",
    ("bluezone", "ios_fg"): "ios_fg",
    ("bluezone", "ios_bg"): "ios_bg",
    ("iphone", "all"): "iphone",
}


class Exclusion(Enum):
    """Why a window is not used."""

    CLOCK = "clock"
    COVERAGE = "coverage"


@dataclass(frozen=True, slots=True)
class CaptureSums:
    """Slot capture histories of one stratum summed over a cluster's slots (docs/method.md)."""

    windows: int = 0  # sum over slots of windows listened
    pairs1: int = 0  # listened window pairs one apart
    pairs2: int = 0  # listened window triples (pairs two apart with the middle one listened)
    detections: int = 0  # sum_k k f_k: (device, window) sightings
    devices: int = 0  # sum_k f_k: distinct devices per slot, summed over slots
    lag1: int = 0
    lag2: int = 0
    run3: int = 0
    singles: int = 0  # f_1: devices seen in one window only (also ID switches off the slot edge)

    def __add__(self, o: CaptureSums) -> CaptureSums:
        return CaptureSums(
            self.windows + o.windows, self.pairs1 + o.pairs1, self.pairs2 + o.pairs2,
            self.detections + o.detections, self.devices + o.devices, self.lag1 + o.lag1,
            self.lag2 + o.lag2, self.run3 + o.run3, self.singles + o.singles,
        )  # fmt: skip

    @classmethod
    def of(cls, c: SlotCapture) -> CaptureSums:
        return cls(c.windows, c.pairs1, c.pairs2, c.detections, c.devices, c.lag1, c.lag2, c.run3,
                   c.seen[0] if c.seen else 0)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClusterTotals:
    """Sums over one cluster's windows; the aggregator's SQL computes the same raw sums."""

    site: str
    node: str
    day: int  # UTC day start, epoch seconds
    windows: int
    used: int
    excl_clock: int
    excl_coverage: int
    window_s_sum: float = 0.0  # over used windows
    ios_fg: int = 0
    ios_bg: int = 0
    iphone: int = 0
    phone: int = 0
    android_win: int = 0
    # Per quarter-hour slot (clock-excluded windows left out): (distinct Bluezone Android IDs
    # at the slot's end, seconds listened in the slot); the slot-count alternative uses them.
    slots: tuple[tuple[float, float], ...] = ()
    headcount: float | None = None  # mean of the windows' head counts
    smartphones: float | None = None  # smartphone owners counted by the inspector
    near_gate: int = 0  # over used windows: devices with a median just below the gate
    capture: Mapping[str, CaptureSums] = field(default_factory=dict)


def captures_from_json(text: str) -> dict[str, CaptureSums]:
    """A payload's `capture` member (JSON text, as a store keeps it) as sums per stratum."""
    caps = captures_from_obj(json.loads(text))
    out: dict[str, CaptureSums] = {}
    for (cat, stratum), name in CAPTURE_STRATA.items():
        c = caps.get(cat, {}).get(stratum)
        if c is not None:
            out[name] = CaptureSums.of(c)
    return out


def slot_detection(tau_s: float, p: EstimationParams) -> float:
    """Prior probability that a present Bluezone Android phone is seen in tau_s seconds:
    p(tau) = a [(1-d) min(1, (tau+b)/c) + d min(1, 1/2 + tau/(2 D))] (burst b, period c,
    advertising share a, Doze share d; an interval at a uniform phase overlaps a burst w.p.
    (tau+b)/period, and a dozing phone sits on or off for steps of D, docs/protocol.md §2.7)."""
    b, c = p.android_burst_s.value, p.android_period_s.value
    d = p.android_doze_share.value
    awake = (1 - d) * min(1.0, (tau_s + b) / c) + d * doze_detection(tau_s, p)
    return p.android_advertising.value * awake


def doze_detection(window_s: float, p: EstimationParams) -> float:
    """Chance a dozing phone is on air at some time in a window: on and off steps of ~9 min,
    long-run duty near 50 % (docs/protocol.md §2.7): a protocol figure, not a site assumption."""
    return min(1.0, 0.5 + window_s / (2 * p.android_doze_period_s.value))


def exclusion(report: WindowReport, p: EstimationParams) -> Exclusion | None:
    """Why a window is not used, or None when it is used."""
    if p.require_clock_sync.value >= 0.5 and report.health.clock_synced is False:
        return Exclusion.CLOCK
    if report.health.scanned_s < p.coverage_min.value * report.window_s:
        return Exclusion.COVERAGE
    return None


class _Acc:
    __slots__ = ("a", "cap", "heads", "slots")

    def __init__(self) -> None:
        self.a = dict.fromkeys(_SUM_FIELDS, 0.0)
        self.slots: dict[int, list[float]] = {}
        self.heads: list[int] = []
        self.cap: dict[str, CaptureSums] = {}


def clusters_from_reports(
    reports: Iterable[WindowReport], p: EstimationParams = DEFAULT_PARAMS
) -> list[ClusterTotals]:
    """Group WindowReports into (site, node, UTC day) clusters (node side; same sums as SQL)."""
    accs: dict[tuple[str, str, int], _Acc] = {}
    for r in reports:
        key = (r.site, r.node, r.window_start - r.window_start % DAY_SECONDS)
        acc = accs.setdefault(key, _Acc())
        a = acc.a
        a["windows"] += 1
        why = exclusion(r, p)
        if r.headcount is not None:
            acc.heads.append(r.headcount)
        if why is Exclusion.CLOCK:
            a["excl_clock"] += 1
            continue
        slot = acc.slots.setdefault(r.window_start // SLOT_SECONDS, [0.0, 0.0])
        slot[0] = max(slot[0], r.slot_counts.get("bluezone", {}).get("android", 0))
        slot[1] += r.health.scanned_s
        for (cat, stratum), name in CAPTURE_STRATA.items():
            c = r.capture.get(cat, {}).get(stratum)
            if c is not None:
                acc.cap[name] = acc.cap.get(name, CaptureSums()) + CaptureSums.of(c)
        if why is Exclusion.COVERAGE:
            a["excl_coverage"] += 1
            continue
        a["used"] += 1
        a["window_s_sum"] += r.window_s
        a["ios_fg"] += r.count("bluezone", "ios_fg")
        a["ios_bg"] += r.count("bluezone", "ios_bg")
        a["iphone"] += r.count("iphone")
        a["phone"] += r.count("phone")
        a["android_win"] += r.count("bluezone", "android")
        a["near_gate"] += r.health.near_gate
    out = []
    for key, acc in accs.items():
        a, h = acc.a, acc.heads
        out.append(
            ClusterTotals(
                site=key[0], node=key[1], day=key[2],
                windows=int(a["windows"]), used=int(a["used"]),
                excl_clock=int(a["excl_clock"]), excl_coverage=int(a["excl_coverage"]),
                window_s_sum=a["window_s_sum"], ios_fg=int(a["ios_fg"]), ios_bg=int(a["ios_bg"]),
                iphone=int(a["iphone"]), phone=int(a["phone"]), android_win=int(a["android_win"]),
                slots=tuple((x, t) for _, (x, t) in sorted(acc.slots.items())),
                headcount=sum(h) / len(h) if h else None, near_gate=int(a["near_gate"]),
                capture=dict(acc.cap),
            )
        )  # fmt: skip
    return sorted(out, key=lambda c: (c.site, c.node, c.day))


_SUM_FIELDS = ("windows", "used", "excl_clock", "excl_coverage", "window_s_sum", "ios_fg",
               "ios_bg", "iphone", "phone", "android_win", "near_gate")  # fmt: skip
