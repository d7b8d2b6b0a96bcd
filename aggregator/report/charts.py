"""Report charts (matplotlib, Agg): adoption by district, trend against target, node coverage."""

from __future__ import annotations

import base64
import io
from datetime import date, timedelta

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from aggregator.report.i18n import t
from aggregator.report.tables import ReportData, Row

_BLUE, _RED, _GREY, _ORANGE = "#1f5fa8", "#c0392b", "#9aa5b1", "#e08e0b"


def png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _points(rows: list[Row]) -> tuple[list[str], list[float], list[float], list[float]]:
    labels, vals, lo, hi = [], [], [], []
    for r in rows:
        e = r.pooled  # the headline, as in the tables
        if r.suppressed or e.value is None or e.low is None or e.high is None:
            continue
        labels.append(r.keys[0] if r.keys else "")
        vals.append(100 * e.value)
        lo.append(100 * max(0.0, e.value - e.low))
        hi.append(100 * max(0.0, e.high - e.value))
    return labels, vals, lo, hi


def district_chart(data: ReportData, lang: str) -> str:
    rows = [r for r in data.district_rows if r.keys and r.keys[0] != "?"]
    labels, vals, lo, hi = _points(rows)
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(3, len(labels)) + 1.2))
    y = list(range(len(labels)))
    ax.barh(y, vals, color=_BLUE, alpha=0.75)
    ax.errorbar(vals, y, xerr=[lo, hi], fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    if data.options.target is not None:
        ax.axvline(100 * data.options.target, color=_RED, ls="--", label=t("target", lang))
        ax.legend(loc="lower right")
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"{t('adoption', lang)} (%)")
    ax.set_title(t("chart_district", lang))
    ax.grid(axis="x", alpha=0.3)
    return png_base64(fig)


def trend_chart(data: ReportData, lang: str) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    labels, vals, lo, hi = _points(data.daily)
    days = [date.fromisoformat(d) for d in labels]
    if days:
        ax.errorbar(
            days,  # type: ignore[arg-type]
            vals,
            yerr=[lo, hi],
            fmt="o-",
            color=_BLUE,
            capsize=3,
            label=t("estimate", lang),
        )
    ts = data.target
    if ts is not None:
        ax.axhline(100 * ts.target, color=_RED, ls="--", label=t("target", lang))
        tr = ts.trend
        if days and tr.slope_per_day is not None and tr.fitted_last is not None:
            end = max([days[-1], *([ts.deadline] if ts.deadline else []),
                       *([tr.projected] if tr.projected else [])])  # fmt: skip
            end = min(end, days[-1] + timedelta(days=120))
            span = (end - days[-1]).days
            xs = [days[-1] + timedelta(days=k) for k in range(span + 1)]
            ys = [100 * (tr.fitted_last + tr.slope_per_day * k) for k in range(span + 1)]
            ax.plot(xs, ys, ":", color=_ORANGE, label=t("trend_legend", lang))  # type: ignore[arg-type]
        if ts.deadline is not None:
            ax.axvline(ts.deadline, color=_GREY, ls="-.", label=t("deadline", lang))  # type: ignore[arg-type]
    ax.set_ylim(0, 100)
    if days:
        # Frame the data, deadline and (capped) projection; matplotlib's default for one day
        # spans years.
        marks = [*days, *([ts.deadline] if ts is not None and ts.deadline else [])]
        if ts is not None and ts.trend.projected is not None:
            marks.append(min(ts.trend.projected, days[-1] + timedelta(days=120)))
        pad = timedelta(days=max(1, (max(marks) - min(marks)).days // 20))
        ax.set_xlim(min(marks) - pad, max(marks) + pad)  # type: ignore[arg-type]
    ax.set_ylabel(f"{t('adoption', lang)} (%)")
    ax.set_title(t("chart_trend", lang))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    return png_base64(fig)


def nodes_chart(data: ReportData, lang: str) -> str:
    """Per node (up to 40) stacked used / excluded shares; beyond that a histogram of used share."""
    nodes = data.nodes
    fig, ax = plt.subplots(figsize=(8, 0.3 * min(40, max(4, len(nodes))) + 1.4))
    if len(nodes) <= 40:
        names = [f"{n.node} ({n.site})" for n in nodes]
        total = [max(1, n.windows) for n in nodes]
        clock = [100 * n.excl_clock / w for n, w in zip(nodes, total, strict=True)]
        cover = [100 * n.excl_coverage / w for n, w in zip(nodes, total, strict=True)]
        used = [100 - c - v for c, v in zip(clock, cover, strict=True)]
        y = list(range(len(names)))
        ax.barh(y, used, color=_BLUE, label=t("used", lang))
        ax.barh(y, cover, left=used, color=_ORANGE, label=t("excl_coverage", lang))
        left = [u + v for u, v in zip(used, cover, strict=True)]
        ax.barh(y, clock, left=left, color=_RED, label=t("excl_clock", lang))
        ax.set_yticks(y, names, fontsize="small")
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"% {t('windows', lang).lower()}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize="small")
    else:
        shares = [100 * (1 - (n.excl_clock + n.excl_coverage) / max(1, n.windows)) for n in nodes]
        ax.hist(shares, bins=20, range=(0, 100), color=_BLUE)
        ax.set_xlabel(f"% {t('share_used', lang)}")
        ax.set_ylabel(t("nodes", lang))
    ax.set_title(t("chart_nodes", lang))
    return png_base64(fig)
