"""The headline of a row against the target: at, below, or cannot tell yet and how many more
visits would decide it; and the per-district visit plan built from it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aggregator.report.pooling import ClusterPair, Pooled
from scanner.estimation.intervals import t_quantile, z_quantile

AT: Final = "at_target"
BELOW: Final = "below_target"
UNSURE: Final = "cannot_tell"
NO_DATA: Final = "no_data"
# Past this many more visits the answer is "not decidable by visiting": the estimate sits on
# the target (a gap of a fraction of a point needs thousands of visits).
MAX_VISITS: Final = 1000


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # at_target | below_target | cannot_tell | no_data
    more_visits: int | None  # for cannot_tell: visits that would decide it; None: too many


def verdict(p: Pooled, target: float, confidence: float = 0.95) -> Verdict:
    """'At target' only when the lower bound is at or above the target, 'below' only when the
    upper bound is below it; otherwise the visits needed for the interval's half-width to
    shrink to the gap |R - target|, from the current variance (SE ~ 1/sqrt(n))."""
    if p.value is None or p.low is None or p.high is None:
        return Verdict(NO_DATA, None)
    if p.low >= target:
        return Verdict(AT, 0)
    if p.high < target:
        return Verdict(BELOW, 0)
    return Verdict(UNSURE, more_visits(p, target, confidence))


def more_visits(p: Pooled, target: float, confidence: float = 0.95) -> int | None:
    """n (crit se / gap)^2 - n PSUs more (Cochran 1977, 4.4, with the current variance as the
    planning variance and the interval's own quantile, which errs on the side of more visits);
    at least 1; None when that exceeds MAX_VISITS or cannot be computed."""
    if p.value is None or p.se is None or p.psus <= 0:
        return None
    gap = abs(p.value - target)
    if gap <= 0:
        return None
    crit = t_quantile(confidence, p.df) if p.variance == "design" else z_quantile(confidence)
    need = p.psus * (crit * p.se / gap) ** 2
    extra = max(1, math.ceil(need - p.psus))
    return extra if extra <= MAX_VISITS else None


@dataclass(frozen=True, slots=True)
class PlanRow:
    district: str
    pooled: Pooled
    verdict: Verdict
    where: str  # site type whose PSUs carry most of the variance: visit those first
    sites: tuple[str, ...]  # that type's sites in the district, fewest visits first


def plan_row(district: str, p: Pooled, pairs: Sequence[ClusterPair], target: float) -> PlanRow:
    v = verdict(p, target)
    where = ""
    sites: tuple[str, ...] = ()
    if v.status == UNSURE and p.value is not None:
        r = p.value
        share: dict[str, float] = {}
        visits: dict[str, dict[str, int]] = {}
        for q in pairs:
            # Each stratum's share of the linearised residual variance (and model variance).
            share[q.stratum] = share.get(q.stratum, 0.0) + q.weight**2 * (
                (q.bluezone - r * q.owners) ** 2 + q.var_bluezone + r * r * q.var_owners
            )
            per = visits.setdefault(q.stratum, {})
            per[q.site] = per.get(q.site, 0) + 1
        if share:
            where = max(share, key=lambda h: share[h])
            sites = tuple(sorted(visits[where], key=lambda s: (visits[where][s], s)))
    return PlanRow(district, p, v, where, sites)
