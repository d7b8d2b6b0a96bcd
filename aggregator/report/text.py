"""Plain outputs of `bzagg report`: fixed-width table, CSV and JSON (stable, golden-tested).

Every row leads with its headline: the pooled estimate (aggregator.report.pooling) with its
method and, given a target, its verdict; the three per-method estimates follow as detail. A row
resting on fewer than k_min smartphone owners is suppressed in every output (no figure, no
interval); the district and province rows still pool its data.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aggregator.report.headline import UNSURE, Verdict, verdict
from aggregator.report.i18n import reason, t
from aggregator.report.pooling import Pooled
from aggregator.report.tables import ReportData, Row
from scanner.estimation.estimate import Estimate
from scanner.wire.schema import iso_utc

_DIGITS = 4


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def fmt_estimate(e: Estimate | Pooled, lang: str) -> str:
    if e.value is None or e.low is None or e.high is None:
        return t("na", lang)
    return f"{pct(e.value)} [{pct(e.low)}-{pct(e.high)}]"


def key_label(key: str, value: str, lang: str) -> str:
    return t(value, lang) if key == "type" or value == "?" else value


def col_title(key: str, lang: str, tz: str) -> str:
    return t(key, lang, tz=tz) if key == "hour" else t(key, lang)


def method_label(method: str, lang: str) -> str:
    return t(method, lang) if method else ""


def verdict_of(data: ReportData, r: Row) -> Verdict | None:
    if data.options.target is None:
        return None
    return verdict(r.pooled, data.options.target, data.params.v("confidence"))


def verdict_label(v: Verdict | None, lang: str) -> str:
    if v is None:
        return ""
    if v.status != UNSURE:
        return t(v.status, lang)
    if v.more_visits is None:
        return t("cannot_tell_inf", lang)
    return t("cannot_tell_n", lang, n=v.more_visits)


def headline(data: ReportData, r: Row, lang: str) -> str:
    if r.suppressed:
        return t("suppressed", lang, k=data.options.k_min)
    return fmt_estimate(r.pooled, lang)


def records(data: ReportData, lang: str = "en") -> list[dict[str, Any]]:
    """One flat dict per row (CSV and XLSX use the same columns; numbers as fractions)."""
    rows = [*data.rows, data.total]
    return [record(data, data.options.by, r, lang) for r in rows]


def record(data: ReportData, by: tuple[str, ...], r: Row, lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: (r.keys[i] if r.keys else "TOTAL") for i, k in enumerate(by)}
    if "site" in by:
        out["name"] = data.names.get(r.keys[by.index("site")], "") if r.keys else ""
    out.update(windows=r.windows, used=r.used, excl_clock=r.excl_clock,
               excl_coverage=r.excl_coverage, nodes=r.nodes, registered=r.registered)  # fmt: skip
    p, hide = r.pooled, r.suppressed
    v = verdict_of(data, r)
    out.update(
        adoption=None if hide else _round(p.value),
        adoption_low=None if hide else _round(p.low),
        adoption_high=None if hide else _round(p.high),
        method=method_label(p.method, lang),
        visits=p.psus,
        status="" if v is None or hide else verdict_label(v, lang),
        more_visits=None if v is None or hide else v.more_visits,
        note=t("suppressed", lang, k=data.options.k_min) if hide else "",
    )
    for e in r.estimates:
        out[e.method] = None if hide else _round(e.value)
        out[f"{e.method}_low"] = None if hide else _round(e.low)
        out[f"{e.method}_high"] = None if hide else _round(e.high)
        out[f"{e.method}_note"] = "" if hide else reason(e.reason, lang)
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, _DIGITS)


def to_csv(data: ReportData, lang: str = "en") -> str:
    rows = [{k: _cell(v) for k, v in r.items()} for r in records(data, lang)]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _cell(v: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula is quoted with a leading
    apostrophe (OWASP, "CSV Injection"): registry names are data, never formulas."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def to_json(data: ReportData, lang: str = "en") -> str:
    k_min = data.options.k_min

    def est(e: Estimate, hide: bool) -> dict[str, Any]:
        if hide:
            return {"suppressed": True}
        return {
            "value": _round(e.value), "low": _round(e.low), "high": _round(e.high),
            "clusters": e.clusters, "windows": e.windows, "variance": e.variance or None,
            "reason": reason(e.reason, lang) or None,
        }  # fmt: skip

    def row(r: Row) -> dict[str, Any]:
        p, v = r.pooled, verdict_of(data, r)
        head: dict[str, Any] = {"suppressed": True, "k_min": k_min} if r.suppressed else {
            "value": _round(p.value), "low": _round(p.low), "high": _round(p.high),
            "variance": p.variance or None, "df": p.df,
            "status": None if v is None else v.status,
            "more_visits": None if v is None else v.more_visits,
        }  # fmt: skip
        head.update(method=p.method or None, method_label=method_label(p.method, lang) or None,
                    visits=p.psus, strata=p.strata, post_stratified=p.post_stratified)  # fmt: skip
        keys = dict(zip(data.options.by, r.keys, strict=False))
        return {
            "keys": keys, "name": data.names.get(keys["site"]) if "site" in keys else None,
            "windows": r.windows, "used": r.used,
            "excluded": {"clock": r.excl_clock, "coverage": r.excl_coverage},
            "nodes": r.nodes, "registered": r.registered, "headline": head,
            "estimates": {e.method: est(e, r.suppressed) for e in r.estimates},
        }  # fmt: skip

    o = data.options
    out: dict[str, Any] = {
        "by": list(o.by), "tz": o.tz, "k_min": k_min,
        "population": t("population", lang),
        "since": iso_utc(o.since) if o.since > 0 else None,
        "until": iso_utc(o.until) if o.until < 2**40 else None,
        "rows": [row(r) for r in data.rows],
        "total": row(data.total),
        "plan": [_plan_json(p, lang) for p in data.plan],
        "unregistered_sites": data.unregistered,
        "target": _target_json(data),
        "parameters": {k: {"value": p.value, "source": p.source} for k, p in data.params.items()},
    }  # fmt: skip
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


def _plan_json(p: Any, lang: str) -> dict[str, Any]:
    v = p.verdict
    return {"district": p.district, "status": v.status, "label": verdict_label(v, lang),
            "more_visits": v.more_visits, "visit_type": p.where or None,
            "visit_sites": list(p.sites)}  # fmt: skip


def _target_json(data: ReportData) -> dict[str, Any] | None:
    ts = data.target
    if ts is None:
        return None
    tr = ts.trend
    return {
        "target": ts.target,
        "deadline": ts.deadline.isoformat() if ts.deadline else None,
        "sites": {"at": ts.sites_at, "below": ts.sites_below, "estimable": ts.sites_estimable},
        "districts": {"at": ts.districts_at, "below": ts.districts_below,
                      "estimable": ts.districts_estimable},
        "trend": {"status": tr.status, "days": tr.days,
                  "slope_per_day": _round(tr.slope_per_day), "fitted_last": _round(tr.fitted_last),
                  "projected": tr.projected.isoformat() if tr.projected else None},
    }  # fmt: skip
