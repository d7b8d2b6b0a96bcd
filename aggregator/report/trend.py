"""Trend of daily adoption against the target: weighted least squares and the projected date."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

# Days whose interval is very narrow would otherwise dominate the fit; a floor on the standard
# error (1 percentage point) keeps one well-measured day from deciding the trend alone.
_SE_FLOOR: Final = 0.01
_HORIZON_DAYS: Final = 3650


@dataclass(frozen=True, slots=True)
class Trend:
    """status: reached | on_track | rising | too_slow | not_rising | not_enough_data."""

    status: str
    days: int
    slope_per_day: float | None = None
    fitted_last: float | None = None
    projected: date | None = None


def fit_trend(
    points: Sequence[tuple[date, float | None, float | None]],
    target: float,
    deadline: date | None = None,
) -> Trend:
    """Fit value = a + b * day (weights 1/se^2) and project the day the line reaches `target`.

    `on_track` means the projected date is on or before the deadline; `rising` means it is later.
    """
    pts = [(d, v, max(se or _SE_FLOOR, _SE_FLOOR)) for d, v, se in points if v is not None]
    if len({d for d, _, _ in pts}) < 2:
        return Trend("not_enough_data", len(pts))
    d0 = min(d for d, _, _ in pts)
    xs = [float((d - d0).days) for d, _, _ in pts]
    ys = [v for _, v, _ in pts]
    ws = [1 / se**2 for _, _, se in pts]
    sw = sum(ws)
    mx = sum(w * x for w, x in zip(ws, xs, strict=True)) / sw
    my = sum(w * y for w, y in zip(ws, ys, strict=True)) / sw
    sxx = sum(w * (x - mx) ** 2 for w, x in zip(ws, xs, strict=True))
    sxy = sum(w * (x - mx) * (y - my) for w, x, y in zip(ws, xs, ys, strict=True))
    b = sxy / sxx
    a = my - b * mx
    last_x = max(xs)
    fitted_last = a + b * last_x
    if fitted_last >= target:
        return Trend("reached", len(pts), b, fitted_last, None)
    if b <= 0 or not math.isfinite(b):
        return Trend("not_rising", len(pts), b, fitted_last, None)
    days = (target - a) / b
    if days > _HORIZON_DAYS:  # a barely positive slope: no date worth printing (or representable)
        return Trend("too_slow", len(pts), b, fitted_last, None)
    projected = d0 + timedelta(days=math.ceil(days))
    status = "on_track" if deadline is None or projected <= deadline else "rising"
    return Trend(status, len(pts), b, fitted_last, projected)
