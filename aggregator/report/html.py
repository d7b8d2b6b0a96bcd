"""The HTML report: one self-contained file (inline PNG charts, no scripts, no external links).

The headline comes first: the province figure, the districts against the target with their
intervals, the sites ranked, the trend with its projected date (or why there is none), and node
health only where something is wrong. The full tables, the per-method detail, the visit plan,
method notes and parameters follow. Every registry text is escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aggregator.report.charts import district_chart, nodes_chart, trend_chart
from aggregator.report.i18n import t
from aggregator.report.method_notes import method_notes
from aggregator.report.summary import (
    plan_cells,
    plan_head,
    province_line,
    report_title,
    row_keys,
    summary_lines,
    trend_line,
)  # fmt: skip
from aggregator.report.tables import ReportData, Row
from aggregator.report.text import (
    col_title,
    fmt_estimate,
    headline,
    method_label,
    pct,
    verdict_label,
    verdict_of,
)  # fmt: skip
from aggregator.store.interface import NodeHealth
from scanner.estimation.estimate import METHODS

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:1.5em;margin-bottom:4px}
h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:0.86em;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef2f7} td.num{text-align:right} tr.total td{font-weight:bold;background:#f6f6f6}
tr.flag td{background:#fff4e5} .muted{color:#666;font-size:0.9em} img{max-width:100%}
.big{font-size:1.6em;font-weight:bold;margin:8px 0} .at{color:#1e7b34} .below{color:#b03a2e}
.unsure{color:#a86400}
"""
_CLS = {"at_target": "at", "below_target": "below", "cannot_tell": "unsure"}


def _local(epoch: int, tz: str) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _table(head: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def to_html(data: ReportData, lang: str = "vi") -> str:
    o = data.options
    by = o.by
    first = min((n.first_start for n in data.nodes), default=o.since)
    last = max((n.last_end for n in data.nodes), default=o.until)
    lo, hi = max(o.since, first), max(o.since, first, min(o.until, last) - 1)
    period = f"{_local(lo, o.tz)} – {_local(hi, o.tz)} ({o.tz})"
    title = report_title(data, lang)
    v = verdict_of(data, data.total)
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{escape(t("period", lang))}: {escape(period)}</p>',
        f'<p class="big {_CLS.get(v.status, "") if v else ""}">'
        f"{escape(province_line(data, lang))}</p>",
        f"<p>{escape(t('population', lang))}</p>",
    ]
    if data.target is not None:
        parts.append(f"<p><b>{escape(trend_line(data, lang))}</b></p>")
    parts.append(f"<h2>{escape(t('chart_district', lang))}</h2>")
    parts.append(_img(district_chart(data, lang), t("chart_district", lang)))
    parts.append(_rows_table(data, [*data.district_rows, data.total], ("district",), lang))
    parts.append(f"<h2>{escape(t('ranked', lang))}</h2>")
    ranked = sorted(data.site_rows, key=lambda r: (r.suppressed, -(r.pooled.value or -1.0)))
    parts.append(_rows_table(data, ranked, ("site",), lang))
    parts.append(f"<h2>{escape(t('chart_trend', lang))}</h2>")
    parts.append(_img(trend_chart(data, lang), t("chart_trend", lang)))
    if data.plan:
        parts.append(f"<h2>{escape(t('plan', lang))}</h2>")
        parts.append(_table(plan_head(lang), [plan_cells(p, lang) for p in data.plan]))
    parts.append(f"<h2>{escape(t('health_problems', lang))}</h2>")
    parts.append(_health(data, lang))
    parts.append(f"<h2>{escape(t('summary', lang))}</h2>")
    parts += [f"<p>{escape(line)}</p>" for line in summary_lines(data, lang)]
    parts.append(_rows_table(data, [*data.rows, data.total], by, lang))
    parts.append(f"<h2>{escape(t('detail', lang))}</h2>")
    parts.append(_detail(data, lang))
    parts.append(f"<h2>{escape(t('method_notes', lang))}</h2>")
    for head, text in method_notes(lang):
        parts.append(f"<p><b>{escape(head)}.</b> {escape(text)}</p>")
    parts.append(f"<h2>{escape(t('params', lang))}</h2>")
    params = [[k, f"{p.value:g}", p.source] for k, p in data.params.items()]
    parts.append(_table([t("param", lang), t("value", lang), t("source", lang)], params))
    parts.append(f'<p class="muted">{escape(t("generated", lang))}</p></body></html>')
    return "\n".join(parts) + "\n"


def _img(b64: str, alt: str) -> str:
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{b64}"></p>'


def _rows_table(data: ReportData, rows: list[Row], by: tuple[str, ...], lang: str) -> str:
    head = [col_title(k, lang, data.options.tz) for k in by]
    if "site" in by:
        head.insert(by.index("site") + 1, t("name", lang))
    target = data.options.target is not None
    head += [t("adoption_col", lang), t("method", lang), t("psus", lang)]
    head += [t("vs_target", lang)] if target else []
    body, classes = [], []
    for r in rows:
        v = verdict_of(data, r)
        cells = [*row_keys(data, r, lang), headline(data, r, lang),
                 method_label(r.pooled.method, lang), str(r.pooled.psus)]  # fmt: skip
        if target:
            cells.append("" if r.suppressed else verdict_label(v, lang))
        body.append(cells)
        cls = "total" if not r.keys else ("flag" if not r.registered else "")
        classes.append(cls or (_CLS.get(v.status, "") if v and not r.suppressed else ""))
    legend = f'<p class="muted">{escape(t("legend", lang, k=data.options.k_min))}</p>'
    return _table(head, body, classes) + "\n" + legend


def _detail(data: ReportData, lang: str) -> str:
    by = data.options.by
    head = [col_title(k, lang, data.options.tz) for k in by]
    if "site" in by:
        head.insert(by.index("site") + 1, t("name", lang))
    head += [t("windows", lang), t("used", lang), t("excluded", lang), t("nodes", lang)]
    head += [t(m, lang) for m in METHODS]
    body = []
    for r in [*data.rows, data.total]:
        est = [headline(data, r, lang)] * 3 if r.suppressed else \
            [fmt_estimate(e, lang) for e in r.estimates]  # fmt: skip
        body.append([*row_keys(data, r, lang), str(r.windows), str(r.used),
                     str(r.excl_clock + r.excl_coverage), str(r.nodes), *est])  # fmt: skip
    return _table(head, body)


def _problem(n: NodeHealth, coverage_min: float) -> bool:
    windows = max(1, n.windows)
    excluded = (n.excl_clock + n.excl_coverage) / windows
    return excluded > 0.05 or n.restarts > 0 or (n.scanned_share or 0.0) < coverage_min


def _health(data: ReportData, lang: str) -> str:
    bad = [n for n in data.nodes if _problem(n, data.params.coverage_min.value)]
    if not bad:
        return f"<p>{escape(t('no_problems', lang))}</p>"
    # Worst first: the nodes that need a visit are the point of this table.
    bad.sort(key=lambda n: -(int(n.excl_clock) + int(n.excl_coverage)) / max(1, int(n.windows)))
    head = [t(h, lang) for h in ("node", "site", "windows", "excl_clock", "excl_coverage",
                                 "scanned_share", "restarts", "first", "last", "mode")]  # fmt: skip
    tz = data.options.tz
    rows = [
        [n.node, f"{n.site} {data.names.get(n.site, '')}".strip(), str(n.windows),
         str(n.excl_clock), str(n.excl_coverage), f"{pct(n.scanned_share or 0.0)} %",
         str(n.restarts), _local(n.first_start, tz), _local(n.last_end, tz), str(n.mode)]
        for n in bad[:50]
    ]  # fmt: skip
    return _img(nodes_chart(data, lang), t("chart_nodes", lang)) + "\n" + _table(head, rows)
