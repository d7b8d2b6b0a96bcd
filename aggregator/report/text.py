"""Plain outputs of `bzagg report`: fixed-width table, CSV and JSON (stable, golden-tested)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aggregator.report.columns import Columns
from aggregator.report.i18n import t
from aggregator.report.tables import ReportData, Row
from scanner.estimation.estimate import METHODS, Estimate
from scanner.wire.schema import iso_utc

_DIGITS = 4


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def fmt_estimate(e: Estimate, lang: str) -> str:
    if e.value is None or e.low is None or e.high is None:
        return t("na", lang)
    return f"{pct(e.value)} [{pct(e.low)}-{pct(e.high)}]"


def key_label(key: str, value: str, lang: str) -> str:
    return t(value, lang) if key == "type" or value == "?" else value


def records(data: ReportData) -> list[dict[str, Any]]:
    """One flat dict per row (CSV and XLSX use the same columns)."""
    return [_record(data.options.by, r) for r in data.rows] + [_record(data.options.by, data.total)]


def _record(by: tuple[str, ...], r: Row) -> dict[str, Any]:
    out: dict[str, Any] = {k: (r.keys[i] if r.keys else "TOTAL") for i, k in enumerate(by)}
    out.update(
        windows=r.windows,
        used=r.used,
        excl_clock=r.excl_clock,
        excl_coverage=r.excl_coverage,
        nodes=r.nodes,
        registered=r.registered,
    )
    for e in r.estimates:
        out[f"{e.method}"] = _round(e.value)
        out[f"{e.method}_low"] = _round(e.low)
        out[f"{e.method}_high"] = _round(e.high)
        out[f"{e.method}_clusters"] = e.clusters
        out[f"{e.method}_note"] = e.reason or ""
    out["best_method"] = r.best.method if r.best.estimable else ""
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, _DIGITS)


def to_csv(data: ReportData) -> str:
    rows = records(data)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_json(data: ReportData) -> str:
    def est(e: Estimate) -> dict[str, Any]:
        return {
            "value": _round(e.value), "low": _round(e.low), "high": _round(e.high),
            "clusters": e.clusters, "windows": e.windows, "variance": e.variance or None,
            "reason": e.reason,
        }  # fmt: skip

    def row(r: Row) -> dict[str, Any]:
        return {
            "keys": dict(zip(data.options.by, r.keys, strict=False)),
            "windows": r.windows, "used": r.used,
            "excluded": {"clock": r.excl_clock, "coverage": r.excl_coverage},
            "nodes": r.nodes, "registered": r.registered,
            "estimates": {e.method: est(e) for e in r.estimates},
        }  # fmt: skip

    o = data.options
    out: dict[str, Any] = {
        "by": list(o.by),
        "since": iso_utc(o.since) if o.since > 0 else None,
        "until": iso_utc(o.until) if o.until < 2**40 else None,
        "rows": [row(r) for r in data.rows],
        "total": row(data.total),
        "unregistered_sites": data.unregistered,
        "target": _target_json(data),
        "parameters": {k: {"value": p.value, "source": p.source} for k, p in data.params.items()},
    }
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


def _target_json(data: ReportData) -> dict[str, Any] | None:
    ts = data.target
    if ts is None:
        return None
    tr = ts.trend
    return {
        "target": ts.target,
        "deadline": ts.deadline.isoformat() if ts.deadline else None,
        "sites": {"at": ts.sites_at, "confirmed": ts.sites_confirmed,
                  "estimable": ts.sites_estimable},
        "districts": {"at": ts.districts_at, "confirmed": ts.districts_confirmed,
                      "estimable": ts.districts_estimable},
        "trend": {"status": tr.status, "days": tr.days,
                  "slope_per_day": _round(tr.slope_per_day), "fitted_last": _round(tr.fitted_last),
                  "projected": tr.projected.isoformat() if tr.projected else None},
    }  # fmt: skip


def summary_lines(data: ReportData, lang: str) -> list[str]:
    """Exclusions, unregistered sites, target and trend: shared by table, HTML and XLSX."""
    tot = data.total
    lines = [t("excl_note", lang, clock=tot.excl_clock, coverage=tot.excl_coverage)]
    if data.unregistered:
        lines.append(t("unregistered", lang, sites=", ".join(data.unregistered)))
    ts = data.target
    if ts is not None:
        lines.append(
            t("target_line", lang, target=f"{pct(ts.target)} %", s_at=ts.sites_at,
              s_n=ts.sites_estimable, s_sure=ts.sites_confirmed, d_at=ts.districts_at,
              d_n=ts.districts_estimable, d_sure=ts.districts_confirmed)
        )  # fmt: skip
        tr = ts.trend
        status = t(
            tr.status,
            lang,
            **(
                {"date": tr.projected.isoformat(), "deadline": _deadline(ts.deadline)}
                if tr.projected
                else {}
            ),
        )
        slope = "-" if tr.slope_per_day is None else f"{100 * tr.slope_per_day:+.2f}"
        lines.append(t("trend_line", lang, slope=slope, status=status))
    return lines


def _deadline(d: object) -> str:
    return "-" if d is None else str(d)


def to_table(data: ReportData, lang: str = "en") -> str:
    by = data.options.by
    head = [t(k, lang) for k in by] + [
        t("windows", lang),
        t("used", lang),
        t("excluded", lang),
        *(t(m, lang) for m in METHODS),
    ]
    body: list[list[str]] = []
    for r in [*data.rows, data.total]:
        keys = (
            [key_label(k, v, lang) for k, v in zip(by, r.keys, strict=True)]
            if r.keys
            else [t("total", lang)] + [""] * (len(by) - 1)
        )
        flag = "" if r.registered else " !"
        body.append(
            [*keys[:-1], keys[-1] + flag, str(r.windows), str(r.used),
             str(r.excl_clock + r.excl_coverage), *(fmt_estimate(e, lang) for e in r.estimates)]
        )  # fmt: skip
    cols = Columns([head, *body], right=range(len(by), len(by) + 3))
    title = f"{t('title', lang)} {t('by', lang)} {', '.join(t(k, lang).lower() for k in by)}"
    out = [title, cols.line(head), cols.rule()]
    out += [cols.line(b) for b in body[:-1]]
    out += [cols.rule(), cols.line(body[-1]), ""]
    out += summary_lines(data, lang)
    out += ["", t("params", lang) + ":"]
    out += [f"  {k} = {p.value:g}  [{p.source}]" for k, p in data.params.items()]
    return "\n".join(out) + "\n"
