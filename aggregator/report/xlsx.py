"""The XLSX report for the province's spreadsheets: summary, by site, nodes, parameters, notes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aggregator.report.i18n import t
from aggregator.report.method_notes import method_notes
from aggregator.report.tables import ReportData, Row
from aggregator.report.text import _record, records, summary_lines
from scanner.estimation.estimate import METHODS
from scanner.wire.schema import iso_utc


def sheet_names(lang: str) -> list[str]:
    return [t("summary", lang), t("site", lang), t("nodes", lang), t("params", lang)[:31],
            t("method_notes", lang)]  # fmt: skip


def write_xlsx(data: ReportData, path: Path, lang: str = "vi") -> None:
    names = sheet_names(lang)
    summary = pd.DataFrame(records(data))
    summary = summary.rename(columns=_headers(data.options.by, lang))
    sites = pd.DataFrame([_site_record(r) for r in data.site_rows])
    sites = sites.rename(columns=_headers(("site",), lang))
    nodes = pd.DataFrame(
        [
            {"node": n.node, "site": n.site, "windows": n.windows, "excl_clock": n.excl_clock,
             "excl_coverage": n.excl_coverage, "scanned_share": round(n.scanned_share or 0, 4),
             "restarts": n.restarts, "first": iso_utc(n.first_start),
             "last": iso_utc(n.last_end), "mode": n.mode}
            for n in data.nodes
        ],
        columns=["node", "site", "windows", "excl_clock", "excl_coverage", "scanned_share",
                 "restarts", "first", "last", "mode"],
    )  # fmt: skip
    params = pd.DataFrame(
        [{t("param", lang): k, t("value", lang): p.value, t("source", lang): p.source}
         for k, p in data.params.items()]
    )  # fmt: skip
    notes = pd.DataFrame(
        [{"": line} for line in summary_lines(data, lang)]
        + [{"": f"{h}. {txt}"} for h, txt in method_notes(lang)]
    )
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for df, name in zip([summary, sites, nodes, params, notes], names, strict=True):
            df.to_excel(xw, sheet_name=name, index=False)


def _headers(by: tuple[str, ...], lang: str) -> dict[str, str]:
    """Column titles in the report language; estimate columns keep their method's name."""
    out = {k: t(k, lang) for k in (*by, "windows", "used", "excl_clock", "excl_coverage",
                                   "nodes", "registered")}  # fmt: skip
    low, high = ("thấp", "cao") if lang == "vi" else ("low", "high")
    for m in METHODS:
        out[m] = t(m, lang)
        out[f"{m}_low"] = f"{t(m, lang)} ({low})"
        out[f"{m}_high"] = f"{t(m, lang)} ({high})"
    out["best_method"] = t("method", lang)
    return out


def _site_record(r: Row) -> dict[str, object]:
    return _record(("site",), r)
