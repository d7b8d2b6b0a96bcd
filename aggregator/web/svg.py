"""Charts drawn on the server as inline SVG: no JavaScript, no fonts or files fetched.

Presentation attributes only (no `style`), so a Content-Security-Policy without 'unsafe-inline'
styles still renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from markupsafe import Markup, escape

from aggregator.web.i18n import day, pct, t
from aggregator.web.models import RowView, TargetView

COLORS = {"at_target": "#1e7b3c", "below_target": "#b3261e", "cannot_tell": "#b26a00",
          None: "#1f5fa8"}  # fmt: skip
_GRID, _TARGET = "#c9d1d9", "#b3261e"


def _x(v: float, left: float, width: float) -> float:
    return left + width * min(1.0, max(0.0, v))


def ranked_chart(rows: Sequence[RowView], target: float | None, lang: str) -> Markup:
    """Horizontal bars with 95 % intervals, one per row that has a headline value."""
    rows = [r for r in rows if r.headline.value is not None]
    if not rows:
        return Markup("")
    left, width, step, top = 230.0, 410.0, 28.0, 24.0
    height = top + step * len(rows) + 30
    out = [_open(700, height, t("chart_district", lang))]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = _x(tick, left, width)
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 24}" '
                   f'stroke="{_GRID}" stroke-width="1"/>'
                   f'<text x="{x:.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
                   f'fill="#444">{100 * tick:.0f} %</text>')  # fmt: skip
    for i, r in enumerate(rows):
        h = r.headline
        assert h is not None and h.value is not None
        y = top + step * i
        color = COLORS.get(r.headline.status, COLORS[None])
        text = t("?", lang) if r.label == "?" else r.label
        label = escape(text if len(text) <= 34 else text[:33] + "…")
        out.append(f'<text x="{left - 8}" y="{y + 14}" font-size="12" text-anchor="end" '
                   f'fill="#222">{label}</text>')  # fmt: skip
        out.append(f'<rect x="{left}" y="{y + 4}" width="{_x(h.value, 0, width):.1f}" '
                   f'height="14" fill="{color}" fill-opacity="0.75"/>')  # fmt: skip
        if h.low is not None and h.high is not None:
            x1, x2 = _x(h.low, left, width), _x(h.high, left, width)
            out.append(f'<line x1="{x1:.1f}" y1="{y + 11}" x2="{x2:.1f}" y2="{y + 11}" '
                       f'stroke="#111" stroke-width="1.5"/>'
                       f'<line x1="{x1:.1f}" y1="{y + 6}" x2="{x1:.1f}" y2="{y + 16}" '
                       f'stroke="#111"/><line x1="{x2:.1f}" y1="{y + 6}" x2="{x2:.1f}" '
                       f'y2="{y + 16}" stroke="#111"/>')  # fmt: skip
        out.append(f'<text x="{left + width + 8}" y="{y + 14}" font-size="11" '
                   f'fill="#222">{pct(h.value)} %</text>')  # fmt: skip
    if target is not None:
        x = _x(target, left, width)
        out.append(f'<line x1="{x:.1f}" y1="{top - 10}" x2="{x:.1f}" y2="{height - 24}" '
                   f'stroke="{_TARGET}" stroke-width="2" stroke-dasharray="6 4"/>'
                   f'<text x="{x + 4:.1f}" y="{top - 12}" font-size="11" fill="{_TARGET}">'
                   f'{escape(t("target", lang))} {pct(target)} %</text>')  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))


def trend_chart(daily: Sequence[RowView], target: TargetView | None, lang: str) -> Markup:
    """Daily headline figures with intervals, the target, the deadline and the fitted trend."""
    pts = [
        (date.fromisoformat(r.keys["day"]), r.headline)
        for r in daily
        if "day" in r.keys and r.headline.value is not None
    ]
    if not pts:
        return Markup("")
    first, last = pts[0][0], pts[-1][0]
    end = last
    trend = target.trend if target is not None else None
    projected = date.fromisoformat(trend.projected) if trend and trend.projected else None
    deadline = date.fromisoformat(target.deadline) if target and target.deadline else None
    for d in (projected, deadline):
        if d is not None and d > end and (d - first).days <= 366:
            end = d
    span = max(1, (end - first).days)
    left, top, width, height = 50.0, 20.0, 600.0, 220.0

    def px(d: date) -> float:
        return left + width * (d - first).days / span

    def py(v: float) -> float:
        return top + height * (1 - min(1.0, max(0.0, v)))

    out = [_open(700, top + height + 40, t("chart_trend", lang))]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = py(tick)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" '
                   f'stroke="{_GRID}"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                   f'text-anchor="end" fill="#444">{100 * tick:.0f} %</text>')  # fmt: skip
    ticks: list[date] = []
    for d in sorted({first, last, end} | ({deadline} if deadline else set())):
        if first <= d <= end and all(abs(px(d) - px(o)) > 70 for o in ticks):
            ticks.append(d)
    for d in ticks:
        out.append(
            f'<text x="{px(d):.1f}" y="{top + height + 18}" font-size="11" '
            f'text-anchor="middle" fill="#444">{escape(day(d.isoformat(), lang))}</text>'
        )
    if target is not None:
        y = py(target.target)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + width}" y2="{y:.1f}" '
                   f'stroke="{_TARGET}" stroke-width="2" stroke-dasharray="6 4"/>')  # fmt: skip
    if deadline is not None and first <= deadline <= end:
        x = px(deadline)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + height}" '
                   f'stroke="{_TARGET}" stroke-width="1"/><text x="{x - 4:.1f}" y="{top + 12}" '
                   f'font-size="11" text-anchor="end" fill="{_TARGET}">'
                   f'{escape(t("deadline", lang))}</text>')  # fmt: skip
    if trend is not None and trend.slope_per_day is not None and trend.fitted_last is not None:
        stop = projected if projected is not None and projected <= end else last

        def fit(d: date) -> float:
            assert trend is not None and trend.fitted_last is not None
            return trend.fitted_last + (trend.slope_per_day or 0.0) * (d - last).days

        out.append(f'<line x1="{px(first):.1f}" y1="{py(fit(first)):.1f}" x2="{px(stop):.1f}" '
                   f'y2="{py(fit(stop)):.1f}" stroke="#6b7280" stroke-width="2" '
                   f'stroke-dasharray="3 3"/>')  # fmt: skip
    for d, h in pts:
        assert h is not None and h.value is not None
        x = px(d)
        if h.low is not None and h.high is not None:
            out.append(
                f'<line x1="{x:.1f}" y1="{py(h.low):.1f}" x2="{x:.1f}" '
                f'y2="{py(h.high):.1f}" stroke="#1f5fa8" stroke-width="1.5"/>'
            )
        out.append(f'<circle cx="{x:.1f}" cy="{py(h.value):.1f}" r="4" fill="#1f5fa8">'
                   f"<title>{escape(day(d.isoformat(), lang))}: {pct(h.value)} %</title>"
                   "</circle>")  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))


def _open(width: float, height: float, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" '
            f'width="100%" role="img" aria-label="{escape(title)}" font-family="sans-serif">'
            f"<title>{escape(title)}</title>")  # fmt: skip
