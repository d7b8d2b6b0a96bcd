"""Report data: clusters from the store, grouped by site, type, district, commune, day, hour."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Protocol

from aggregator.report.trend import Trend, fit_trend
from aggregator.sites import Registry
from aggregator.store.queries import (
    ROLLUP_EXISTS_SQL,
    ROLLUP_SITES_SEEN_SQL,
    SITES_SEEN_SQL,
    cluster_query,
    clusters_from_slot_rows,
    nodes_query,
    rollup_cluster_query,
    rollup_nodes_query,
    rollup_usable,
)
from scanner.estimation.estimate import METHODS, ClusterTotals, DevicesHat, Estimate, estimate
from scanner.estimation.params import EstimationParams

log = logging.getLogger(__name__)

GROUP_KEYS: Final = ("site", "type", "district", "commune", "day", "hour")


class QueryStore(Protocol):
    def query(self, sql: str, params: Any = ...) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True, slots=True)
class ReportOptions:
    by: tuple[str, ...] = ("district",)
    since: int = 0
    until: int = 2**40
    sites: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    target: float | None = None
    deadline: date | None = None


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

    @property
    def best(self) -> Estimate:
        """The preferred estimate: head-count, else iOS-internal, else BLE-denominator."""
        for e in self.estimates:
            if e.estimable:
                return e
        return self.estimates[0]


@dataclass(frozen=True, slots=True)
class TargetSummary:
    target: float
    deadline: date | None
    sites_at: int
    sites_confirmed: int
    sites_estimable: int
    districts_at: int
    districts_confirmed: int
    districts_estimable: int
    trend: Trend


@dataclass(slots=True)
class ReportData:
    options: ReportOptions
    params: EstimationParams
    rows: list[Row]
    total: Row
    daily: list[Row]
    nodes: list[tuple[Any, ...]]
    unregistered: list[str]
    site_rows: list[Row] = field(default_factory=list)
    district_rows: list[Row] = field(default_factory=list)
    target: TargetSummary | None = None


def build_report(
    store: QueryStore, registry: Registry, params: EstimationParams, options: ReportOptions
) -> ReportData:
    """Run the cluster query once and group its rows every way the report needs."""
    bad = [k for k in options.by if k not in GROUP_KEYS]
    if bad:
        raise ValueError(f"unknown --by key(s): {', '.join(bad)}")
    sites = _site_filter(registry, options)
    # The trigger-maintained rollup answers in well under a second for millions of windows.
    rollup = rollup_usable(params) and bool(store.query(ROLLUP_EXISTS_SQL, {})[0][0])
    cq, nq = (rollup_cluster_query, rollup_nodes_query) if rollup else (cluster_query, nodes_query)
    sql, binds = cq(
        params,
        since=options.since,
        until=options.until,
        sites=sites,
        by_hour="hour" in options.by,
    )
    clusters = clusters_from_slot_rows(store.query(sql, binds))
    log.debug("report: %d clusters (rollup %s)", len(clusters), rollup)
    pf = registry.params_for(params)
    staff = registry.staff()
    cache: dict[int, DevicesHat] = {}  # `clusters` stays alive for the whole build

    def keyer(by: Sequence[str]) -> Callable[[ClusterTotals, int], tuple[str, ...]]:
        def key(c: ClusterTotals, hour: int) -> tuple[str, ...]:
            _name, kind, district, commune, _ = registry.attrs(c.site)
            values = {"site": c.site, "type": kind, "district": district, "commune": commune,
                      "day": _iso_day(c.day), "hour": f"{hour:02d}"}  # fmt: skip
            return tuple(values[k] for k in by)

        return key

    def group(by: Sequence[str]) -> list[Row]:
        groups: dict[tuple[str, ...], list[ClusterTotals]] = {}
        k = keyer(by)
        for c, hour in clusters:
            groups.setdefault(k(c, hour), []).append(c)
        return [_row(key, groups[key], registry, pf, staff, cache) for key in sorted(groups)]

    nodes_sql, nodes_binds = nq(params, since=options.since, until=options.until, sites=sites)
    seen = [s for s, _ in store.query(ROLLUP_SITES_SEEN_SQL if rollup else SITES_SEEN_SQL, {})]
    data = ReportData(
        options=options,
        params=params,
        rows=group(options.by),
        total=_row((), [c for c, _ in clusters], registry, pf, staff, cache),
        daily=group(("day",)),
        nodes=store.query(nodes_sql, nodes_binds),
        unregistered=[s for s in seen if registry.get(s) is None],
    )
    data.site_rows = group(("site",))
    data.district_rows = group(("district",))
    if options.target is not None:
        data.target = _target(data, options.target, options.deadline)
    return data


def _row(
    key: tuple[str, ...],
    clusters: list[ClusterTotals],
    registry: Registry,
    pf: Callable[[str], EstimationParams],
    staff: dict[str, int],
    cache: dict[int, DevicesHat],
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
    def count(rows: list[Row]) -> tuple[int, int, int]:
        est = [r.best for r in rows if r.best.estimable and r.registered]
        at = sum(1 for e in est if e.value is not None and e.value >= target)
        sure = sum(1 for e in est if e.low is not None and e.low >= target)
        return at, sure, len(est)

    s_at, s_sure, s_n = count(data.site_rows)
    d_at, d_sure, d_n = count(data.district_rows)
    points = [
        (date.fromisoformat(r.keys[0]), r.best.value, r.best.se)
        for r in data.daily
        if r.best.value is not None
    ]
    trend = fit_trend(points, target, deadline)
    return TargetSummary(target, deadline, s_at, s_sure, s_n, d_at, d_sure, d_n, trend)


def _iso_day(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).date().isoformat()


def day_bounds(since: date | None, until: date | None) -> tuple[int, int]:
    """UTC epoch bounds: `since` inclusive, `until` inclusive (whole day)."""
    lo = 0 if since is None else _midnight(since)
    return lo, 2**40 if until is None else _midnight(until + timedelta(days=1))


def _midnight(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())
