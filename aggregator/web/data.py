"""The one adapter between `bzagg report` and the dashboard: report JSON in, page values out.

Every figure comes from `build_report` rendered by the same JSON renderer as
`bzagg report --format json`, so a page and that command agree digit for digit on the same store:
each row's pooled headline (value, interval, method, verdict, visits needed), the per-method
detail, the visit plan and the target tally. A row the report suppresses (fewer than k_min
smartphone owners) carries no figure here either.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from aggregator.report.tables import (
    DEFAULT_TZ,
    K_MIN,
    ReportData,
    ReportOptions,
    build_report,
)
from aggregator.report.text import to_json
from aggregator.sites import UNREGISTERED, Registry
from aggregator.store.interface import NodeHealth, WindowStore
from aggregator.web.models import (
    Figure,
    Headline,
    Kind,
    NodeCoverage,
    PlanView,
    RowView,
    ScopeView,
    Tally,
    TargetView,
    TrendView,
)
from scanner.estimation.params import EstimationParams

# What each page groups by: the first is the page's main table, as `bzagg report --by ...`.
_MAIN_BY: dict[Kind, tuple[str, ...]] = {
    "province": ("district",),
    "district": ("site", "day"),
    "site": ("day",),
}


@dataclass(frozen=True, slots=True)
class Scope:
    kind: Kind
    name: str = ""


@dataclass(frozen=True, slots=True)
class Figures:
    """What the report needs besides the store: the same inputs `bzagg report` takes."""

    registry: Registry
    params: EstimationParams
    target: float | None = None
    deadline: date | None = None
    tz: str = DEFAULT_TZ
    k_min: int = K_MIN
    report_args: tuple[str, ...] = ()  # --sites-file/--params as given, for the commands shown


def scope_options(scope: Scope, fig: Figures) -> ReportOptions:
    return ReportOptions(
        by=_MAIN_BY[scope.kind],
        sites=(scope.name,) if scope.kind == "site" else (),
        districts=(scope.name,) if scope.kind == "district" else (),
        target=fig.target,
        deadline=fig.deadline,
        tz=fig.tz,
        k_min=fig.k_min,
    )


def build_scope(
    store: WindowStore, fig: Figures, scope: Scope, *, version: int, now: float
) -> ScopeView:
    """Run the report once for the scope and adapt each of its groupings."""
    data = build_report(store, fig.registry, fig.params, scope_options(scope, fig))
    main = _json(data)
    by_day = _json(_regroup(data, ("day",), data.daily))
    adapt = _Adapter(fig)
    total = adapt.row(main["total"], ())
    if scope.kind == "province":
        rows, visits = adapt.rows(main, ranked=True), []
    elif scope.kind == "district":
        rows = adapt.rows(_json(_regroup(data, ("site",), data.site_rows)), ranked=True)
        visits = adapt.rows(main)
        # The district's own row, as `--by district` prints it (pooled with its population).
        own = adapt.rows(_json(_regroup(data, ("district",), data.district_rows)))
        total = next((r for r in own if r.keys.get("district") == scope.name), total)
    else:
        rows, visits = [], adapt.rows(main)
        own = adapt.rows(_json(_regroup(data, ("site",), data.site_rows)))
        total = next((r for r in own if r.keys.get("site") == scope.name), total)
    return ScopeView(
        kind=scope.kind,
        name=scope.name,
        title=_title(scope, fig.registry),
        version=version,
        computed_at=now,
        total=total,
        rows=rows,
        visits=visits,
        daily=adapt.rows(by_day),
        target=_target(main.get("target")),
        planning=[_plan(p, fig.registry) for p in main.get("plan") or []],
        tz=str(main.get("tz") or fig.tz),
        k_min=int(main.get("k_min") or fig.k_min),
        nodes=[_coverage(n) for n in data.nodes],
        unregistered_sites=list(main.get("unregistered_sites") or []),
        parameters=dict(main.get("parameters") or {}),
        commands=commands(scope, fig),
    )


def commands(scope: Scope, fig: Figures) -> list[str]:
    """The `bzagg report` runs whose JSON holds this page's figures."""
    base = ["bzagg", "report", *fig.report_args]
    if scope.kind == "site":
        base += ["--site", scope.name]
    elif scope.kind == "district":
        base += ["--district", scope.name]
    if fig.target is not None:
        base += ["--target", f"{fig.target:g}"]
    if fig.deadline is not None:
        base += ["--deadline", fig.deadline.isoformat()]
    if fig.tz != DEFAULT_TZ:
        base += ["--tz", fig.tz]
    if fig.k_min != K_MIN:
        base += ["--k-min", str(fig.k_min)]
    groupings = {"province": ("district", "day"),
                 "district": ("district", "site", "site,day", "day"),
                 "site": ("site", "day")}[scope.kind]  # fmt: skip
    return [shlex.join([*base, "--by", by, "--format", "json"]) for by in groupings]


def known_scope(scope: Scope, registry: Registry, seen_sites: Sequence[str]) -> bool:
    """A district of the registry, or a site registered or seen in the store."""
    if scope.kind == "district":
        return any(s.district == scope.name for s in registry.sites.values())
    if scope.kind == "site":
        return registry.get(scope.name) is not None or scope.name in seen_sites
    return True


def _regroup(data: ReportData, by: tuple[str, ...], rows: list[Any]) -> ReportData:
    # build_report groups the same clusters by site and by day besides the asked grouping; these
    # are the rows `bzagg report --by site` / `--by day` prints, without a second query.
    options = dataclasses.replace(data.options, by=by)
    return dataclasses.replace(data, options=options, rows=rows)


def _json(data: ReportData) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(to_json(data))
    return out


class _Adapter:
    def __init__(self, fig: Figures) -> None:
        self.fig = fig

    def rows(self, report: Mapping[str, Any], *, ranked: bool = False) -> list[RowView]:
        by = tuple(report.get("by") or ())
        out = [self.row(r, by) for r in report.get("rows") or []]
        if ranked:
            out.sort(key=_rank_key)
        return out

    def row(self, r: Mapping[str, Any], by: tuple[str, ...]) -> RowView:
        keys = {str(k): str(v) for k, v in (r.get("keys") or {}).items()}
        given = (r.get("estimates") or {}).items()
        estimates = {m: _figure(m, e, self.fig.k_min) for m, e in given}
        excluded = r.get("excluded") or {}
        name = r.get("name")
        return RowView(
            keys=keys,
            label=_label(keys, self.fig.registry),
            href=_href(keys, by),
            windows=int(r.get("windows", 0)),
            used=int(r.get("used", 0)),
            excluded_clock=int(excluded.get("clock", 0)),
            excluded_coverage=int(excluded.get("coverage", 0)),
            nodes=int(r.get("nodes", 0)),
            registered=bool(r.get("registered", True)),
            name=None if name is None else str(name),
            headline=Headline(**(r.get("headline") or {})),
            estimates=estimates,
        )


def _figure(method: str, e: Mapping[str, Any], k_min: int) -> Figure:
    if e.get("suppressed"):
        return Figure(method=method, value=None, low=None, high=None, suppressed=True,
                      k_min=k_min)  # fmt: skip
    return Figure(
        method=method,
        suppressed=False,
        value=e.get("value"),
        low=e.get("low"),
        high=e.get("high"),
        clusters=int(e.get("clusters") or 0),
        windows=int(e.get("windows") or 0),
        reason=e.get("reason"),
    )


def _rank_key(r: RowView) -> tuple[int, float, str]:
    v = r.headline.value
    return (v is None, -(v or 0.0), r.label)


def _label(keys: Mapping[str, str], registry: Registry) -> str:
    parts = []
    for k, v in keys.items():
        site = registry.get(v) if k == "site" else None
        parts.append(site.name if site is not None else v)
    return " · ".join(parts)


def _href(keys: Mapping[str, str], by: tuple[str, ...]) -> str | None:
    if by == ("district",) and keys.get("district", UNREGISTERED) != UNREGISTERED:
        return "/district/" + quote(keys["district"], safe="")
    if by and by[0] == "site" and "site" in keys:
        return "/site/" + quote(keys["site"], safe="")
    return None


def _target(t: Mapping[str, Any] | None) -> TargetView | None:
    if not t:
        return None
    return TargetView(
        target=t["target"],
        deadline=t.get("deadline"),
        sites=Tally(**t["sites"]),
        districts=Tally(**t["districts"]),
        trend=TrendView(**t["trend"]),
    )


def _plan(p: Mapping[str, Any], registry: Registry) -> PlanView:
    sites = [str(x) for x in p.get("visit_sites") or []]
    return PlanView(
        district=str(p["district"]), status=p["status"], more_visits=p.get("more_visits"),
        visit_type=p.get("visit_type"), visit_sites=sites,
        visit_site_names=[registry.attrs(x)[0] or x for x in sites],
    )  # fmt: skip


def _coverage(n: NodeHealth) -> NodeCoverage:
    share = n.scanned_share
    return NodeCoverage(
        node=n.node, site=n.site, windows=n.windows, excluded_clock=n.excl_clock,
        excluded_coverage=n.excl_coverage,
        scanned_share=None if share is None else min(1.0, max(0.0, share)),
        restarts=n.restarts, first_start=n.first_start, last_end=n.last_end, mode=n.mode,
    )  # fmt: skip


def _title(scope: Scope, registry: Registry) -> str:
    if scope.kind == "site":
        site = registry.get(scope.name)
        return site.name if site is not None else scope.name
    return scope.name
