"""The one adapter between `bzagg report` and the dashboard: report JSON in, page values out.

Every figure comes from `build_report` rendered by the same JSON renderer as
`bzagg report --format json`, so a page and that command agree digit for digit on the same store.
Fields a newer report adds (a named headline per row, an at/below/cannot-tell status, visits
needed, a planning table) are used when present; otherwise the headline is the first estimable
method, as the report's own `best` rule picks it, and the status follows the interval.
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

from aggregator.report.tables import ReportData, ReportOptions, build_report
from aggregator.report.text import to_json
from aggregator.sites import UNREGISTERED, Registry
from aggregator.store.health import QueryStore
from aggregator.web.models import (
    Figure,
    Kind,
    NodeCoverage,
    RowView,
    ScopeView,
    Status,
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
    report_args: tuple[str, ...] = ()  # --sites-file/--params as given, for the commands shown


def scope_options(scope: Scope, fig: Figures) -> ReportOptions:
    return ReportOptions(
        by=_MAIN_BY[scope.kind],
        sites=(scope.name,) if scope.kind == "site" else (),
        districts=(scope.name,) if scope.kind == "district" else (),
        target=fig.target,
        deadline=fig.deadline,
    )


def build_scope(
    store: QueryStore, fig: Figures, scope: Scope, *, version: int, now: float
) -> ScopeView:
    """Run the report once for the scope and adapt each of its groupings."""
    data = build_report(store, fig.registry, fig.params, scope_options(scope, fig))
    main = _json(data)
    by_day = _json(_regroup(data, ("day",), data.daily))
    adapt = _Adapter(fig)
    if scope.kind == "province":
        rows, visits = adapt.rows(main, ranked=True), []
    elif scope.kind == "district":
        rows = adapt.rows(_json(_regroup(data, ("site",), data.site_rows)), ranked=True)
        visits = adapt.rows(main)
    else:
        rows, visits = [], adapt.rows(main)
    return ScopeView(
        kind=scope.kind,
        name=scope.name,
        title=_title(scope, fig.registry),
        version=version,
        computed_at=now,
        total=adapt.row(main["total"], ()),
        rows=rows,
        visits=visits,
        daily=adapt.rows(by_day),
        target=_target(main.get("target")),
        planning=_planning(main),
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
    groupings = {"province": ("district", "day"), "district": ("site", "site,day", "day"),
                 "site": ("day",)}[scope.kind]  # fmt: skip
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
        estimates = {m: _figure(m, e) for m, e in (r.get("estimates") or {}).items()}
        headline = _headline(r, estimates)
        excluded = r.get("excluded") or {}
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
            headline=headline,
            status=_status(r, headline, self.fig.target),
            visits_needed=_int_or_none(r.get("visits_needed")),
            estimates=estimates,
        )


def _figure(method: str, e: Mapping[str, Any]) -> Figure:
    return Figure(
        method=str(e.get("method", method)),
        value=e.get("value"),
        low=e.get("low"),
        high=e.get("high"),
        clusters=int(e.get("clusters") or 0),
        windows=int(e.get("windows") or 0),
        reason=e.get("reason"),
    )


def _headline(r: Mapping[str, Any], estimates: Mapping[str, Figure]) -> Figure | None:
    given = r.get("headline")
    if isinstance(given, Mapping):
        return _figure(str(given.get("method", "")), given)
    if isinstance(given, str) and given in estimates:
        return estimates[given]
    # The report's `Row.best`: the first estimable method in the report's order.
    return next((e for e in estimates.values() if e.value is not None), None)


def _status(r: Mapping[str, Any], h: Figure | None, target: float | None) -> Status | None:
    given = r.get("status")
    if given in ("at", "below", "cannot_tell"):
        out: Status = given
        return out
    if target is None:
        return None
    if h is not None and h.low is not None and h.low >= target:
        return "at"
    if h is not None and h.high is not None and h.high < target:
        return "below"
    return "cannot_tell"


def _rank_key(r: RowView) -> tuple[int, float, str]:
    v = r.headline.value if r.headline is not None else None
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


def _planning(report: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    plan = report.get("planning") or report.get("visit_planning")
    if isinstance(plan, Mapping):
        plan = plan.get("rows")
    return [dict(p) for p in plan] if isinstance(plan, list) else None


def _coverage(n: Sequence[Any]) -> NodeCoverage:
    node, site, windows, excl_clock, excl_cov, share, restarts, first, last, mode = n[:10]
    return NodeCoverage(
        node=node, site=site, windows=int(windows or 0), excluded_clock=int(excl_clock or 0),
        excluded_coverage=int(excl_cov or 0),
        scanned_share=None if share is None else min(1.0, max(0.0, float(share))),
        restarts=int(restarts or 0), first_start=_int_or_none(first),
        last_end=_int_or_none(last), mode=mode,
    )  # fmt: skip


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


def _title(scope: Scope, registry: Registry) -> str:
    if scope.kind == "site":
        site = registry.get(scope.name)
        return site.name if site is not None else scope.name
    return scope.name
