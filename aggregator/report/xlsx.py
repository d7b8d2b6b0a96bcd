"""The XLSX report for the province's spreadsheets: summary, districts (with a native chart
against the target), sites ranked, visit plan, nodes, parameters, notes; all in one language.

Written with openpyxl directly: percentages are stored as fractions with a percent number
format, and every text cell is typed as a string, so a registry name such as `=HYPERLINK(..)`
stays text (openpyxl would otherwise store a string starting with '=' as a formula).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from aggregator.report.i18n import t
from aggregator.report.method_notes import method_notes
from aggregator.report.summary import plan_cells, plan_head, summary_lines
from aggregator.report.tables import ReportData, Row
from aggregator.report.text import col_title, key_label, record
from scanner.estimation.estimate import METHODS

PCT = "0.0%"
_PCT_KEYS = ("adoption", "adoption_low", "adoption_high",
             *(f"{m}{s}" for m in METHODS for s in ("", "_low", "_high")))  # fmt: skip


def sheet_names(lang: str) -> list[str]:
    names = ["summary", "district", "ranked", "plan", "nodes", "params", "method_notes"]
    bad = str.maketrans({c: "-" for c in "[]:*?/\\"})  # not allowed in a sheet title
    return [t(n, lang).translate(bad)[:31] for n in names]


def write_xlsx(data: ReportData, path: Path, lang: str = "vi") -> None:
    wb = Workbook()
    names = sheet_names(lang)
    ws = wb.active
    assert ws is not None
    ws.title = names[0]
    _records(ws, data, data.options.by, [*data.rows, data.total], lang)
    dist = wb.create_sheet(names[1])
    _records(dist, data, ("district",), [*data.district_rows, data.total], lang)
    _district_chart(dist, data, lang)
    ranked = sorted(data.site_rows, key=lambda r: (r.suppressed, -(r.pooled.value or -1.0)))
    _records(wb.create_sheet(names[2]), data, ("site",), ranked, lang)
    _table(wb.create_sheet(names[3]), plan_head(lang), [plan_cells(p, lang) for p in data.plan])
    heads = ["node", "site", "windows", "excl_clock", "excl_coverage", "scanned_share",
             "restarts", "first", "last", "mode"]  # fmt: skip
    tz = ZoneInfo(data.options.tz)

    def local(epoch: object) -> str:
        return datetime.fromtimestamp(int(str(epoch)), tz).strftime("%Y-%m-%d %H:%M")

    nodes = [[n.node, n.site, n.windows, n.excl_clock, n.excl_coverage,
              round(n.scanned_share or 0.0, 4), n.restarts, local(n.first_start),
              local(n.last_end), n.mode] for n in data.nodes]  # fmt: skip
    sheet = wb.create_sheet(names[4])
    _table(sheet, [t(h, lang) for h in heads], nodes)
    for row in sheet.iter_rows(min_row=2, min_col=6, max_col=6):
        row[0].number_format = PCT
    _table(wb.create_sheet(names[5]), [t("param", lang), t("value", lang), t("source", lang)],
           [[k, p.value, p.source] for k, p in data.params.items()])  # fmt: skip
    notes = [[line] for line in summary_lines(data, lang)]
    notes += [[f"{h}. {txt}"] for h, txt in method_notes(lang)]
    _table(wb.create_sheet(names[6]), [t("method_notes", lang)], notes)
    wb.save(path)


def _records(ws: Worksheet, data: ReportData, by: tuple[str, ...], rows: Iterable[Row],
             lang: str) -> None:  # fmt: skip
    recs = [record(data, by, r, lang) for r in rows]
    for rec, r in zip(recs, rows, strict=False):
        for i, k in enumerate(by):
            if r.keys:
                rec[k] = key_label(k, r.keys[i], lang)
            elif i == 0:
                rec[k] = t("total", lang)
        rec["registered"] = t("yes" if r.registered else "no", lang)
    keys = list(recs[0]) if recs else []
    _table(ws, [_header(k, lang, data.options.tz) for k in keys], [list(r.values()) for r in recs])
    for j, k in enumerate(keys, 1):
        if k in _PCT_KEYS:
            for row in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                row[0].number_format = PCT


def _header(key: str, lang: str, tz: str) -> str:
    low, high = t("low", lang), t("high", lang)
    if key in ("adoption", *METHODS):
        return t("adoption_pct", lang) if key == "adoption" else t(key, lang)
    for m in ("adoption", *METHODS):
        if key == f"{m}_low":
            return f"{t(m, lang) if m != 'adoption' else t('adoption', lang)} ({low})"
        if key == f"{m}_high":
            return f"{t(m, lang) if m != 'adoption' else t('adoption', lang)} ({high})"
        if key == f"{m}_note":
            return f"{t(m, lang)}: {t('note', lang)}"
    return col_title(key, lang, tz)


def _table(ws: Worksheet, head: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    for j, h in enumerate(head, 1):
        _put(ws, 1, j, h)
    for i, row in enumerate(rows, 2):
        for j, v in enumerate(row, 1):
            _put(ws, i, j, v)
    for j, h in enumerate(head, 1):
        ws.column_dimensions[ws.cell(1, j).column_letter].width = max(10, min(40, len(h) + 2))
    ws.freeze_panes = "A2"


def _put(ws: Worksheet, i: int, j: int, v: Any) -> None:
    cell = ws.cell(row=i, column=j, value=v)
    if isinstance(v, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with


def _district_chart(ws: Worksheet, data: ReportData, lang: str) -> None:
    """Adoption by district (bars) with the target as a line, native to the spreadsheet."""
    n = len(data.district_rows)
    if n == 0:
        return
    heads = [ws.cell(1, j).value for j in range(1, ws.max_column + 1)]
    col = heads.index(t("adoption_pct", lang)) + 1
    bar = BarChart()
    bar.title = t("chart_district", lang)
    bar.y_axis.title = t("adoption", lang)
    bar.y_axis.number_format = "0%"
    bar.y_axis.scaling.min = 0
    bar.y_axis.scaling.max = 1
    bar.add_data(Reference(ws, min_col=col, min_row=1, max_row=n + 1), titles_from_data=True)
    bar.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    if data.options.target is not None:
        tcol = ws.max_column + 1
        _put(ws, 1, tcol, t("target", lang))
        for i in range(2, n + 2):
            ws.cell(i, tcol, data.options.target).number_format = PCT
        line = LineChart()
        line.add_data(Reference(ws, min_col=tcol, min_row=1, max_row=n + 1),
                      titles_from_data=True)  # fmt: skip
        bar += line
    bar.width, bar.height = 18, 9
    ws.add_chart(bar, f"A{n + 5}")
