"""Report data: clusters from the store, grouped by site, type, district, commune, day, hour."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from aggregator.report.calibration import calibrated
from aggregator.report.headline import AT, BELOW, PlanRow, plan_row, verdict
from aggregator.report.pooling import NONE, ClusterPair, Pooled, pairs_for, pooled_ratio
from aggregator.report.trend import Trend, fit_trend
from aggregator.sites import UNREGISTERED, Registry
from aggregator.store.interface import NodeHealth, WindowStore
from scanner.estimation.estimate import METHODS, ClusterTotals, DevicesHat, Estimate, estimate
from scanner.estimation.params import EstimationParams

log = logging.getLogger(__name__)

GROUP_KEYS: Final = ("site", "type", "district", "commune", "day", "hour")
DEFAULT_TZ: Final = "Asia/Ho_Chi_Minh"
K_MIN: Final = 5


@dataclass(frozen=True, slots=True)
class ReportOptions:
    by: tuple[str, ...] = ("district",)
    since: int = 0
    until: int = 2**40
    sites: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    target: float | None = None
    deadline: date | None = None
    tz: str = DEFAULT_TZ  # days and hours are labelled in this time zone
    k_min: int = K_MIN  # rows resting on fewer smartphone owners are suppressed in outputs


@dataclass(frozen=True, slots=True)
class Row:
    """One group of the report: its keys, window counts and the three estimates."""

    keys: tuple[str, ...]
    windows: int
    used: int
    excl_clock: int
    excl_coverage: int
    nodes: int
    registered: bool
    estimates: tuple[Estimate, ...]
    pooled: Pooled = NONE  # the headline: all site types pooled (aggregator.report.pooling)
    suppressed: bool = False  # fewer than k_min smartphone owners: no figure is published

    @property
    def best(self) -> Estimate:
        """The per-method estimate named by the headline's method (detail section)."""
        for e in self.estimates:
            if e.method == self.pooled.method:
                return e
        for e in self.estimates:
            if e.estimable:
                return e
        return self.estimates[0]


@dataclass(frozen=True, slots=True)
class TargetSummary:
    target: float
    deadline: date | None
    sites_at: int  # lower bound at or above the target
    sites_below: int  # upper bound below the target
    sites_estimable: int
    districts_at: int
    districts_below: int
    districts_estimable: int
    trend: Trend


@dataclass(slots=True)
class ReportData:
    options: ReportOptions
    params: EstimationParams
    rows: list[Row]
    total: Row
    daily: list[Row]
    nodes: list[NodeHealth]
    unregistered: list[str]
    site_rows: list[Row] = field(default_factory=list)
    district_rows: list[Row] = field(default_factory=list)
    target: TargetSummary | None = None
    plan: list[PlanRow] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # site id -> registry name


def build_report(
    store: WindowStore, registry: Registry, params: EstimationParams, options: ReportOptions
) -> ReportData:
    """Run the cluster query once (twice with calibration visits in the registry) and group
    its rows every way the report needs."""
    bad = [k for k in options.by if k not in GROUP_KEYS]
    if bad:
        raise ValueError(f"unknown --by key(s): {', '.join(bad)}")
    sites = _site_filter(registry, options)
    params = calibrated(store, registry, params)
    by_hour = "hour" in options.by
    found = store.clusters(
        params, since=options.since, until=options.until, sites=sites, by_hour=by_hour
    )
    clusters = [(c.totals, c.hour) for c in found]
    log.debug("report: %d clusters", len(clusters))
    pf = registry.params_for(params)
    staff = registry.staff()
    cache: dict[int, DevicesHat] = {}  # `clusters` stays alive for the whole build
    pairs = pairs_for((c for c, _ in clusters), registry, pf, cache)
    tz = ZoneInfo(options.tz)
    conf = params.confidence.value
    by_district: dict[str, list[ClusterPair]] = {}

    def keyer(by: Sequence[str]) -> Callable[[ClusterTotals, int], tuple[str, ...]]:
        def key(c: ClusterTotals, hour: int) -> tuple[str, ...]:
            _name, kind, district, commune, _ = registry.attrs(c.site)
            local = datetime.fromtimestamp(c.day + 3600 * hour, tz)
            values = {"site": c.site, "type": kind, "district": district, "commune": commune,
                      "day": local.date().isoformat(), "hour": f"{local.hour:02d}"}  # fmt: skip
            return tuple(values[k] for k in by)

        return key

    def row(key: tuple[str, ...], cs: list[ClusterTotals], district: str | None) -> Row:
        qs = [q for c in cs if (q := pairs[id(c)]) is not None]
        pop = registry.population(district or None) if district is not None else {}
        pooled = pooled_ratio(qs, confidence=conf, population=pop or None)
        if district:
            by_district[district] = qs
        return _row(key, cs, registry, pf, staff, cache, pooled, options.k_min)

    def group(by: Sequence[str]) -> list[Row]:
        groups: dict[tuple[str, ...], list[ClusterTotals]] = {}
        k = keyer(by)
        for c, hour in clusters:
            groups.setdefault(k(c, hour), []).append(c)
        return [row(key, groups[key], key[0] if tuple(by) == ("district",) else None)
                for key in sorted(groups)]  # fmt: skip

    seen = [s for s, _ in store.site_counts()]
    data = ReportData(
        options=options,
        params=params,
        rows=group(options.by),
        total=row((), [c for c, _ in clusters], ""),
        daily=group(("day",)),
        nodes=store.node_health(params, since=options.since, until=options.until, sites=sites),
        unregistered=[s for s in seen if registry.get(s) is None],
    )
    data.site_rows = group(("site",))
    data.district_rows = group(("district",))
    data.names = {s.id: s.name for s in registry.sites.values()}
    if options.target is not None:
        data.target = _target(data, options.target, options.deadline)
        data.plan = [plan_row(r.keys[0], r.pooled, by_district.get(r.keys[0], []), options.target)
                     for r in data.district_rows if r.keys[0] != UNREGISTERED]  # fmt: skip
    return data


def _row(
    key: tuple[str, ...],
    clusters: list[ClusterTotals],
    registry: Registry,
    pf: Callable[[str], EstimationParams],
    staff: dict[str, int],
    cache: dict[int, DevicesHat],
    pooled: Pooled = NONE,
    k_min: int = K_MIN,
) -> Row:
    return Row(
        keys=key,
        windows=sum(c.windows for c in clusters),
        used=sum(c.used for c in clusters),
        excl_clock=sum(c.excl_clock for c in clusters),
        excl_coverage=sum(c.excl_coverage for c in clusters),
        nodes=len({c.node for c in clusters}),
        registered=all(registry.get(c.site) is not None for c in clusters),
        estimates=tuple(estimate(m, clusters, pf, staff=staff, cache=cache) for m in METHODS),
        pooled=pooled,
        suppressed=pooled.owners_present < k_min,
    )


def _site_filter(registry: Registry, options: ReportOptions) -> list[str] | None:
    if not options.sites and not options.districts:
        return None
    chosen = set(options.sites) if options.sites else None
    if options.districts:
        in_districts = {s.id for s in registry.sites.values() if s.district in options.districts}
        chosen = in_districts if chosen is None else chosen & in_districts
    return sorted(chosen or ())


def _target(data: ReportData, target: float, deadline: date | None) -> TargetSummary:
    conf = data.params.confidence.value

    def count(rows: list[Row]) -> tuple[int, int, int]:
        vs = [verdict(r.pooled, target, conf).status for r in rows
              if r.pooled.estimable and r.registered]  # fmt: skip
        return sum(v == AT for v in vs), sum(v == BELOW for v in vs), len(vs)

    s_at, s_below, s_n = count(data.site_rows)
    d_at, d_below, d_n = count(data.district_rows)
    points = [
        (date.fromisoformat(r.keys[0]), r.pooled.value, r.pooled.se)
        for r in data.daily
        if r.pooled.value is not None
    ]
    trend = fit_trend(points, target, deadline)
    return TargetSummary(target, deadline, s_at, s_below, s_n, d_at, d_below, d_n, trend)


def day_bounds(since: date | None, until: date | None) -> tuple[int, int]:
    """UTC epoch bounds: `since` inclusive, `until` inclusive (whole day)."""
    lo = 0 if since is None else _midnight(since)
    return lo, 2**40 if until is None else _midnight(until + timedelta(days=1))


def _midnight(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())
