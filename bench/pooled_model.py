"""Simulated districts of offices, markets and counters with known truth (count-level model).

Used by bench/accuracy_pooled.py and tests/report/test_pooled.py. Each site gets visits of the
count model (bench/count_model.py); the district's truth is Bluezone person-time over
smartphone-owner person-time over all its visits: the population the pooled figure estimates.
`blind=True` draws the device behaviour from wide ranges that the estimator is not told (it
keeps config/estimation.yaml's defaults): smartphone share 0.5-0.95, iOS share 0.1-0.5, Doze
share 0-0.6, mean stay 5-40 min, and phones of neighbours outside the gate (0-3 per window,
a third of them Bluezone) leaking into the counts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bench.count_model import simulate_counts
from scanner.wire.schema import WindowReport

DAY0 = 1_597_017_600  # 2020-08-10T00:00:00Z
KINDS = ("office", "market", "counter")


@dataclass(slots=True)
class District:
    name: str
    sites: list[dict[str, Any]] = field(default_factory=list)  # registry entries
    reports: list[WindowReport] = field(default_factory=list)
    bluezone_t: float = 0.0
    owners_t: float = 0.0
    by_site: dict[str, tuple[float, float]] = field(default_factory=dict)  # site: (bz, owners)

    @property
    def truth(self) -> float:
        return self.bluezone_t / self.owners_t if self.owners_t else float("nan")


def simulate_district(
    name: str, rng: random.Random, *, blind: bool = False, sites: tuple[str, ...] = KINDS,
    visits: int = 2, adoption: dict[str, float] | None = None,
) -> District:  # fmt: skip
    """One district: one site of each kind in `sites`, `visits` visits each on distinct days."""
    d = District(name)
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:12] or "d"
    for i, kind in enumerate(sites):
        sid = f"{slug}-{kind}-{i}"
        a = (adoption or {}).get(kind, rng.uniform(0.05, 0.8))
        s = rng.uniform(0.5, 0.95) if blind else 0.7
        q = rng.uniform(0.1, 0.5) if blind else 0.3
        doze = rng.uniform(0.0, 0.6) if blind else 0.2
        dwell = None
        if blind and kind != "office":
            dwell = rng.uniform(300, 2400)
        leak = rng.uniform(0.0, 3.0) if blind else 0.0
        entry: dict[str, Any] = {"id": sid, "name": f"{kind} {i} {name}", "type": kind,
                                 "district": name, "commune": f"{name} commune"}  # fmt: skip
        if not blind:  # a calibrated deployment knows the shares of its sites
            entry.update(smartphone_share=s, ios_share=q)
        d.sites.append(entry)
        bz = own = 0.0
        for v in range(visits):
            visit = simulate_counts(kind, a, rng, smartphone_share=s, ios_share=q,
                                    doze_share=doze, dwell_s=dwell)  # fmt: skip
            node = f"n-{sid}"
            shift = 86_400 * v
            head = visit.headcount if kind == "office" else None
            for r in visit.reports:
                d.reports.append(
                    replace(r, node=node, site=sid, seq=len(d.reports),
                            window_start=r.window_start + shift, headcount=head,
                            counts=_leak(r.counts, leak, rng) if leak else r.counts)
                )  # fmt: skip
            bz, own = bz + visit.bluezone_t, own + visit.owners_t
        d.by_site[sid] = (bz, own)
        d.bluezone_t += bz
        d.owners_t += own
    return d


def _leak(counts: Any, rate: float, rng: random.Random) -> dict[str, dict[str, int]]:
    """Neighbours' phones outside the gate seen anyway: iPhones and Bluezone Android IDs."""
    out = {k: dict(v) for k, v in counts.items()}
    n = _poisson(rate, rng)
    ios = sum(rng.random() < 0.3 for _ in range(n))
    bz = sum(rng.random() < 1 / 3 for _ in range(n - ios))
    out["iphone"]["all"] = out["iphone"].get("all", 0) + ios
    out["bluezone"]["android"] = out["bluezone"].get("android", 0) + bz
    return out


def _poisson(lam: float, rng: random.Random) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def province(seed: int, districts: int = 3, *, blind: bool = False) -> list[District]:
    rng = random.Random(seed)
    return [simulate_district(f"District {k:02d}", rng, blind=blind) for k in range(districts)]


def all_reports(ds: list[District]) -> Iterator[WindowReport]:
    for d in ds:
        yield from d.reports
