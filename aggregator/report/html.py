"""The HTML report: one self-contained file (inline PNG charts, no scripts, no external links)."""

from __future__ import annotations

from html import escape

from aggregator.report.charts import district_chart, nodes_chart, trend_chart
from aggregator.report.i18n import t
from aggregator.report.method_notes import method_notes
from aggregator.report.tables import ReportData
from aggregator.report.text import fmt_estimate, key_label, pct, summary_lines
from scanner.estimation.estimate import METHODS
from scanner.wire.schema import iso_utc

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:1.5em;margin-bottom:4px}
h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:0.86em;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef2f7} td.num{text-align:right} tr.total td{font-weight:bold;background:#f6f6f6}
tr.flag td{background:#fff4e5} .muted{color:#666;font-size:0.9em} img{max-width:100%}
"""


def to_html(data: ReportData, lang: str = "vi") -> str:
    o = data.options
    by = o.by
    first = min((n.first_start for n in data.nodes), default=o.since)
    last = max((n.last_end for n in data.nodes), default=o.until)
    lo = max(o.since, first)
    hi = min(o.until, last) - 1
    period = f"{iso_utc(lo)[:10]} – {iso_utc(max(lo, hi))[:10]}"
    title = f"{t('title', lang)} {t('by', lang)} {', '.join(t(k, lang).lower() for k in by)}"
    parts = [
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{escape(t("period", lang))}: {escape(period)} (UTC)</p>',
    ]
    parts += [f"<p>{escape(line)}</p>" for line in summary_lines(data, lang)]
    parts.append(f"<h2>{escape(t('chart_district', lang))}</h2>")
    parts.append(_img(district_chart(data, lang), t("chart_district", lang)))
    parts.append(f"<h2>{escape(t('chart_trend', lang))}</h2>")
    parts.append(_img(trend_chart(data, lang), t("chart_trend", lang)))
    parts.append(f"<h2>{escape(t('summary', lang))}</h2>")
    parts.append(_main_table(data, lang))
    parts.append(f"<h2>{escape(t('chart_nodes', lang))}</h2>")
    parts.append(_img(nodes_chart(data, lang), t("chart_nodes", lang)))
    parts.append(_nodes_table(data, lang))
    parts.append(f"<h2>{escape(t('method_notes', lang))}</h2>")
    for head, text in method_notes(lang):
        parts.append(f"<p><b>{escape(head)}.</b> {escape(text)}</p>")
    parts.append(f'<h2>{escape(t("params", lang))}</h2><table><tr><th>{t("param", lang)}</th>'
                 f'<th>{t("value", lang)}</th><th>{t("source", lang)}</th></tr>')  # fmt: skip
    for name, p in data.params.items():
        parts.append(f"<tr><td>{name}</td><td class=num>{p.value:g}</td>"
                     f"<td>{escape(p.source)}</td></tr>")  # fmt: skip
    parts.append("</table>")
    parts.append(f'<p class="muted">{escape(t("generated", lang))}</p></body></html>')
    return "\n".join(parts) + "\n"


def _img(b64: str, alt: str) -> str:
    return f'<p><img alt="{escape(alt)}" src="data:image/png;base64,{b64}"></p>'


def _main_table(data: ReportData, lang: str) -> str:
    by = data.options.by
    cols = ["windows", "used", "excluded", "nodes", *METHODS]
    head = [t(k, lang) for k in by] + [t(c, lang) for c in cols]
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for r in [*data.rows, data.total]:
        cls = "total" if not r.keys else ("flag" if not r.registered else "")
        keys = (
            [key_label(k, v, lang) for k, v in zip(by, r.keys, strict=True)]
            if r.keys
            else [t("total", lang)] + [""] * (len(by) - 1)
        )
        nums = [r.windows, r.used, r.excl_clock + r.excl_coverage, r.nodes]
        cells = [f"<td>{escape(k)}</td>" for k in keys]
        cells += [f"<td class=num>{n}</td>" for n in nums]
        cells += [f"<td class=num>{escape(fmt_estimate(e, lang))}</td>" for e in r.estimates]
        out.append(f'<tr class="{cls}">' + "".join(cells) + "</tr>")
    out.append("</table>")
    out.append(f'<p class="muted">% [95 %]; {escape(t("?", lang))}</p>')
    return "\n".join(out)


def _nodes_table(data: ReportData, lang: str) -> str:
    head = ["node", "site", "windows", "excl_clock", "excl_coverage", "scanned_share", "restarts",
            "first", "last", "mode"]  # fmt: skip
    out = ["<table><tr>" + "".join(f"<th>{escape(t(h, lang))}</th>" for h in head) + "</tr>"]
    # Worst first: the nodes that need a visit are the point of this table.
    ranked = sorted(data.nodes, key=lambda n: -(n.excl_clock + n.excl_coverage) / max(1, n.windows))
    for n in ranked[:50]:
        cells = [escape(n.node), escape(n.site), str(n.windows), str(n.excl_clock),
                 str(n.excl_coverage), f"{pct(n.scanned_share or 0.0)} %", str(n.restarts),
                 iso_utc(n.first_start), iso_utc(n.last_end), escape(str(n.mode))]  # fmt: skip
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)
