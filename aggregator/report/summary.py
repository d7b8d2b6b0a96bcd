"""The fixed-width table and the summary lines (population, province, target, trend, legend)
shared by the table, HTML and XLSX outputs."""

from __future__ import annotations

from aggregator.report.headline import AT, BELOW, PlanRow
from aggregator.report.i18n import t
from aggregator.report.tables import ReportData, Row
from aggregator.report.text import (
    col_title,
    fmt_estimate,
    headline,
    key_label,
    method_label,
    pct,
    verdict_label,
    verdict_of,
)  # fmt: skip
from scanner.estimation.estimate import METHODS


def report_title(data: ReportData, lang: str) -> str:
    keys = ", ".join(col_title(k, lang, data.options.tz).lower() for k in data.options.by)
    return f"{t('title', lang)} {t('by', lang)} {keys}"


def province_line(data: ReportData, lang: str) -> str:
    r = data.total
    v = verdict_of(data, r)
    status = verdict_label(v, lang) if v is not None and not r.suppressed else "-"
    return t("province_line", lang, value=headline(data, r, lang),
             method=method_label(r.pooled.method, lang) or "-", status=status)  # fmt: skip


def summary_lines(data: ReportData, lang: str) -> list[str]:
    """Population, province, exclusions, unregistered sites, target and trend, legend."""
    tot = data.total
    lines = [t("population", lang)]
    if data.total.pooled.post_stratified:
        lines.append(t("post_stratified", lang))
    lines.append(province_line(data, lang))
    lines.append(t("excl_note", lang, clock=tot.excl_clock, coverage=tot.excl_coverage))
    if data.unregistered:
        lines.append(t("unregistered", lang, sites=", ".join(data.unregistered)))
    ts = data.target
    if ts is not None:
        d_unsure = ts.districts_estimable - ts.districts_at - ts.districts_below
        s_unsure = ts.sites_estimable - ts.sites_at - ts.sites_below
        lines.append(
            t("target_line", lang, target=f"{pct(ts.target)} %", d_at=ts.districts_at,
              d_below=ts.districts_below, d_unsure=d_unsure, d_n=ts.districts_estimable,
              s_at=ts.sites_at, s_below=ts.sites_below, s_unsure=s_unsure,
              s_n=ts.sites_estimable)
        )  # fmt: skip
        lines.append(trend_line(data, lang))
    lines.append(t("legend", lang, k=data.options.k_min))
    return lines


def trend_line(data: ReportData, lang: str) -> str:
    ts = data.target
    assert ts is not None
    tr = ts.trend
    if tr.projected:
        dl = "-" if ts.deadline is None else ts.deadline.isoformat()
        status = t(tr.status, lang, date=tr.projected.isoformat(), deadline=dl)
    elif tr.status in ("not_rising", "not_enough_data", "too_slow"):
        status = t("no_projection", lang, why=t(tr.status, lang))
    else:
        status = t(tr.status, lang)
    if tr.slope_per_day is None:
        return t("trend_none", lang, status=status)
    return t("trend_line", lang, slope=f"{100 * tr.slope_per_day:+.2f}", status=status)


def _grid(head: list[str], body: list[list[str]], numeric: set[int], total: bool) -> list[str]:
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in
                 enumerate(zip(cells, widths, strict=True))]  # fmt: skip
        return "  ".join(parts).rstrip()

    rule = line(["-" * w for w in widths])
    out = [line(head), rule]
    if total:
        return [*out, *(line(b) for b in body[:-1]), rule, line(body[-1])]
    return [*out, *(line(b) for b in body)]


def row_keys(data: ReportData, r: Row, lang: str) -> list[str]:
    """A row's key cells: labelled keys, the site's name beside its id, "!" if unregistered."""
    by = data.options.by
    if not r.keys:
        keys = [t("total", lang)] + [""] * (len(by) - 1)
    else:
        keys = [key_label(k, v, lang) for k, v in zip(by, r.keys, strict=True)]
    if "site" in by:
        i = by.index("site")
        keys.insert(i + 1, data.names.get(r.keys[i], "") if r.keys else "")
    if not r.registered:
        keys[0] += " !"
    return keys


def to_table(data: ReportData, lang: str = "en") -> str:
    by, tz = data.options.by, data.options.tz
    keyhead = [col_title(k, lang, tz) for k in by]
    if "site" in by:
        keyhead.insert(by.index("site") + 1, t("name", lang))
    target = data.options.target is not None
    head = [*keyhead, t("windows", lang), t("used", lang), t("excluded", lang),
            t("adoption_col", lang), t("method", lang)]  # fmt: skip
    head += [t("vs_target", lang)] if target else []
    body, detail = [], []
    for r in [*data.rows, data.total]:
        keys = row_keys(data, r, lang)
        v = verdict_of(data, r)
        status = [verdict_label(v, lang) if not r.suppressed else ""] if target else []
        body.append([*keys, str(r.windows), str(r.used), str(r.excl_clock + r.excl_coverage),
                     headline(data, r, lang), method_label(r.pooled.method, lang),
                     *status])  # fmt: skip
        cells = [headline(data, r, lang)] * 3 if r.suppressed else \
            [fmt_estimate(e, lang) for e in r.estimates]  # fmt: skip
        detail.append([*keys, *cells])
    n = len(keyhead)
    out = [report_title(data, lang), *_grid(head, body, set(range(n, n + 3)), True), ""]
    out += summary_lines(data, lang)
    if data.plan:
        out += ["", t("plan", lang) + ":", *plan_lines(data.plan, lang)]
    out += ["", t("detail", lang) + ":"]
    out += _grid([*keyhead, *(t(m, lang) for m in METHODS)], detail, set(), True)
    out += ["", t("params", lang) + ":"]
    out += [f"  {k} = {p.value:g}  [{p.source}]" for k, p in data.params.items()]
    return "\n".join(out) + "\n"


def plan_cells(p: PlanRow, lang: str) -> list[str]:
    v = p.verdict
    decided = v.status in (AT, BELOW)
    more = "0" if decided else ("-" if v.more_visits is None else str(v.more_visits))
    where = t("plan_none", lang) if v.status in (AT, BELOW) else (
        f"{t(p.where, lang)}: {', '.join(p.sites)}" if p.where else "-")  # fmt: skip
    return [p.district, fmt_estimate(p.pooled, lang), verdict_label(v, lang), str(p.pooled.psus),
            more, where]  # fmt: skip


def plan_head(lang: str) -> list[str]:
    return [t("district", lang), t("adoption_col", lang), t("vs_target", lang), t("psus", lang),
            t("more_visits", lang), t("plan_where", lang)]  # fmt: skip


def plan_lines(plan: list[PlanRow], lang: str) -> list[str]:
    return _grid(plan_head(lang), [plan_cells(p, lang) for p in plan], {3, 4}, False)
