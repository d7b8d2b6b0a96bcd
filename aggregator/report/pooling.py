"""Pooled adoption over all site types: a stratified ratio over visits (docs/method.md §7).

Target population: smartphone owners present at the audited sites during the audited time,
person-time weighted (each owner counts for the seconds they were there while a node listened).
Sites are the primary sampling units (PSUs), each site's visits (clusters: a visit, or a fixed
node's UTC day) its secondary units, site type the stratum and the site's registry `weight`
(default 1) the design weight. Each visit contributes its headline method's Bluezone
person-seconds y and smartphone-owner person-seconds x; the figure is R = sum w y / sum w x
(Cochran 1977, 6.9; Wolter 2007, ch. 6 for the linearisation) with the between-site variance of
the linearised totals inside each stratum; a stratum with one site uses its visits as units,
and one with a single visit its within-visit model variance (detection, ownership). The wider
of that and the model variance of all visits gives the interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aggregator.sites import Registry
from scanner.estimation.estimate import ClusterTotals, DevicesHat, devices
from scanner.estimation.intervals import log_bounds, t_quantile, z_quantile
from scanner.estimation.params import EstimationParams

# The headline rule: a head count (inspector's, else the registry's staff) measures the owners
# present directly; without one, iOS-internal, the better validated of the two alternatives
# (bench/accuracy.py: 91-96 % coverage by site type; BLE-denominator was measured biased +14 to
# +18 pp at counters by passers-by's iPhones, which inflate its denominator but cancel in
# iOS-internal's ratio).
# Its owners present are iPhones / iOS share and its Bluezone users that times the Bluezone
# share among the iPhones: adoption among iPhone users stands for all owners of the site.
HEADCOUNT: Final = "headcount"
IOS: Final = "ios_internal"


@dataclass(frozen=True, slots=True)
class ClusterPair:
    """One PSU of the pooled estimate: Bluezone users and smartphone owners present, as
    person-seconds over the cluster's used windows, with their within-cluster variances."""

    site: str
    stratum: str
    method: str
    bluezone: float
    owners: float
    var_bluezone: float
    var_owners: float
    seconds: float
    weight: float = 1.0

    @property
    def owners_present(self) -> float:
        return self.owners / self.seconds if self.seconds > 0 else 0.0


def cluster_pair(
    c: ClusterTotals,
    p: EstimationParams,
    *,
    stratum: str,
    staff: int | None = None,
    weight: float = 1.0,
    cache: dict[int, DevicesHat] | None = None,
) -> ClusterPair | None:
    """THE SEAM with scanner.estimation: numerator and denominator estimates of one cluster with
    their variances, computed here from today's `devices()` output the same way `estimate()`
    builds its terms. When the estimators expose per-cluster numerator/denominator estimates
    with variances, this function becomes a call to them. None: the cluster gives no owners."""
    if c.used <= 0:
        return None
    d = cache.get(id(c)) if cache is not None else None
    if d is None:
        d = devices(c, p)
        if cache is not None:
            cache[id(c)] = d
    # Detection noise, the visit-to-visit spread and the priors' spread (DevicesHat.rel_spread),
    # as the head-count estimator's terms have them.
    var_b = d.var_bluezone
    h = c.headcount if c.headcount is not None else staff
    if h is not None and h > 0:
        s = p.smartphone_share.value
        owners = h * s
        var_o = h * s * (1 - s) / d.people_sets + (owners * p.smartphone_share_cv.value) ** 2
        method = HEADCOUNT
    else:
        q = p.ios_share.value
        owners = d.iphone / q
        if owners <= 0:
            return None
        bz = d.ios / q
        r = min(1.0, max(0.0, d.ios / d.iphone))
        # Detection noise of both counts, plus the iPhones as a sample of the owners present:
        # Var(y | x) = x^2 r (1-r) / (q x) over the people sets that pass during the visit.
        var_b = (d.var_ios + owners * r * (1 - r) * q / d.people_sets) / q**2
        var_o = d.var_iphone / q**2
        t = c.window_s_sum
        return ClusterPair(c.site, stratum, IOS, bz * t, owners * t, var_b * t * t,
                           var_o * t * t, t, weight)  # fmt: skip
    t = c.window_s_sum
    return ClusterPair(c.site, stratum, method, d.bluezone * t, owners * t, var_b * t * t,
                       var_o * t * t, t, weight)  # fmt: skip


def pairs_for(
    clusters: Iterable[ClusterTotals],
    registry: Registry,
    pf: Callable[[str], EstimationParams],
    cache: dict[int, DevicesHat] | None = None,
) -> dict[int, ClusterPair | None]:
    """`cluster_pair` for every cluster, keyed by id(cluster) (the caller keeps them alive)."""
    staff = registry.staff()
    out: dict[int, ClusterPair | None] = {}
    for c in clusters:
        site = registry.get(c.site)
        out[id(c)] = cluster_pair(
            c, pf(c.site), stratum=site.type if site else "?", staff=staff.get(c.site),
            weight=site.weight if site and site.weight is not None else 1.0, cache=cache,
        )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class Pooled:
    """A pooled ratio with its interval; `value is None` when no PSU gives owners."""

    value: float | None
    low: float | None
    high: float | None
    se: float | None
    method: str  # headcount | ios_internal | mixed | ""
    psus: int
    strata: int
    variance: str  # "design" (between PSUs) or "model" (within PSUs), whichever is wider
    df: int
    owners_present: float  # smartphone owners present at once, summed over the row's sites
    sites: int
    post_stratified: bool = False

    @property
    def estimable(self) -> bool:
        return self.value is not None


NONE: Final = Pooled(None, None, None, None, "", 0, 0, "", 0, 0.0, 0)


def pooled_ratio(
    pairs: Sequence[ClusterPair],
    *,
    confidence: float = 0.95,
    population: Mapping[str, float] | None = None,
) -> Pooled:
    """Stratified (site type) ratio over PSUs with a Taylor-linearised variance; with
    `population` (smartphone owners per stratum from the registry) the post-stratified
    combination sum_h P_h R_h / sum_h P_h over the strata observed."""
    if not pairs:
        return NONE
    by: dict[str, list[ClusterPair]] = {}
    for q in pairs:
        by.setdefault(q.stratum, []).append(q)
    present = _owners_present(pairs)
    sites = len({q.site for q in pairs})
    methods = {q.method for q in pairs}
    method = methods.pop() if len(methods) == 1 else "mixed"
    if population:
        return _post_stratified(by, population, confidence, present, sites, method)
    return _ratio(by, confidence, present, sites, method)


def _ratio(
    by: Mapping[str, list[ClusterPair]], confidence: float, present: float, sites: int, method: str
) -> Pooled:
    x_tot = sum(q.weight * q.owners for qs in by.values() for q in qs)
    y_tot = sum(q.weight * q.bluezone for qs in by.values() for q in qs)
    n = sum(len(qs) for qs in by.values())
    if x_tot <= 0:
        return Pooled(None, None, None, None, method, n, len(by), "", 0, present, sites)
    r = y_tot / x_tot
    v_model = sum(q.weight**2 * (q.var_bluezone + r * r * q.var_owners)
                  for qs in by.values() for q in qs) / x_tot**2  # fmt: skip
    v_design, df = 0.0, 0
    for qs in by.values():
        per_site: dict[str, list[float]] = {}
        for q in qs:
            per_site.setdefault(q.site, []).append(q.weight * (q.bluezone - r * q.owners) / x_tot)
        # Sites are the primary units: a fixed node's 14 days at one market are one draw of a
        # market, not 14. A stratum of one site falls back to that site's visits as units.
        zs = list(per_site.values())
        units = [sum(z) for z in zs] if len(zs) > 1 else zs[0]
        if len(units) < 2:  # one PSU: no between-PSU variance; its model variance stands in
            v_design += sum(q.weight**2 * (q.var_bluezone + r * r * q.var_owners)
                            for q in qs) / x_tot**2  # fmt: skip
            continue
        zbar = sum(units) / len(units)
        v_design += len(units) / (len(units) - 1) * sum((zi - zbar) ** 2 for zi in units)
        df += len(units) - 1
    return _interval(r, v_design, df, v_model, confidence, method, n, len(by), present, sites,
                     y_tot, x_tot)  # fmt: skip


def _post_stratified(
    by: Mapping[str, list[ClusterPair]], population: Mapping[str, float], confidence: float,
    present: float, sites: int, method: str,
) -> Pooled:  # fmt: skip
    parts = []
    for h, qs in by.items():
        w = population.get(h, 0.0)
        part = _ratio({h: qs}, confidence, 0.0, 0, method)
        if w > 0 and part.value is not None and part.se is not None:
            parts.append((w, part))
    total = sum(w for w, _ in parts)
    n = sum(len(qs) for qs in by.values())
    if total <= 0:
        return Pooled(None, None, None, None, method, n, len(by), "", 0, present, sites)
    r = sum(w * p.value for w, p in parts if p.value is not None) / total
    v = sum((w / total) ** 2 * (p.se or 0.0) ** 2 for w, p in parts)
    df = sum(p.df for _, p in parts)
    kind = "design" if any(p.variance == "design" for _, p in parts) else "model"
    crit = t_quantile(confidence, df) if kind == "design" and df > 0 else z_quantile(confidence)
    se = math.sqrt(max(v, 0.0))
    low, high = log_bounds(r, crit * se)
    return Pooled(r, max(0.0, low), min(1.0, max(r, high)), se, method, n,
                  len(by), kind, df, present, sites, post_stratified=True)  # fmt: skip


def _interval(
    r: float, v_design: float, df: int, v_model: float, confidence: float, method: str, n: int,
    strata: int, present: float, sites: int, y_tot: float, x_tot: float,
) -> Pooled:  # fmt: skip
    crit_m = z_quantile(confidence)
    crit_d = t_quantile(confidence, df) if df > 0 else crit_m
    # Compare half-widths, not variances: with few PSUs the t quantile matters.
    if df > 0 and crit_d * math.sqrt(v_design) > crit_m * math.sqrt(v_model):
        var, crit, kind = v_design, crit_d, "design"
    else:
        var, crit, kind = v_model, crit_m, "model"
    se = math.sqrt(max(var, 0.0))
    low, high = log_bounds(r, crit * se)
    if y_tot <= 0:  # nothing seen: the rule of three keeps the upper bound honest
        high = max(high, 3.0 / max(1.0, present))
    return Pooled(r, max(0.0, low), min(1.0, max(high, min(r, 1.0))), se, method, n, strata,
                  kind, df, present, sites)  # fmt: skip


def _owners_present(pairs: Sequence[ClusterPair]) -> float:
    """Owners present at once, per site the person-time mean over its PSUs, summed over sites:
    what the small-cell rule counts (a site's 3 owners stay 3 over ten visits)."""
    acc: dict[str, list[float]] = {}
    for q in pairs:
        a = acc.setdefault(q.site, [0.0, 0.0])
        a[0] += q.owners
        a[1] += q.seconds
    return sum(o / s for o, s in acc.values() if s > 0)
