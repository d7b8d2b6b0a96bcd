"""Ratio estimates over clusters with 95 % intervals (linearisation or cluster bootstrap); pure."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

# With no Bluezone phone seen at all the variance model gives [0, 0]; the "rule of three" upper
# bound (-ln 0.05 ~ 3 events per denominator) keeps the interval honest
# (Hanley & Lippman-Hand 1983).
_RULE_OF_THREE: Final = 3.0


@dataclass(frozen=True, slots=True)
class Term:
    """One cluster's contribution to a ratio: estimated numerator and denominator and their
    within-cluster (model) variances, e.g. detection noise and binomial smartphone ownership."""

    num: float
    den: float
    var_num: float = 0.0
    var_den: float = 0.0


@dataclass(frozen=True, slots=True)
class RatioCI:
    value: float
    low: float
    high: float
    se: float
    variance: str  # "clusters" (between-cluster, t quantile) or "model" (within-cluster, z)
    clusters: int
    raw: float = 0.0  # the unbounded ratio (above 1 flags a misfit)


def z_quantile(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def t_quantile(confidence: float, df: int) -> float:
    """Two-sided Student t critical value; exact for df 1 and 2, Cornish-Fisher expansion above
    (Abramowitz & Stegun 26.7.5, error < 0.01 for df >= 3 at 95 %)."""
    u = 0.5 + confidence / 2
    if df <= 0:
        return math.inf
    if df == 1:
        return math.tan(math.pi * (u - 0.5))
    if df == 2:
        return (2 * u - 1) / math.sqrt(2 * u * (1 - u))
    z = z_quantile(confidence)
    n = float(df)
    return (
        z
        + (z**3 + z) / (4 * n)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * n**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * n**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * n**4)
    )


def log_bounds(r: float, half: float) -> tuple[float, float]:
    """r / f and r f with f = exp(half / r): the interval r +- half moved to the log scale
    (delta method, Var log r ~ Var r / r^2; Katz, Baptista, Azen & Pike 1978). The estimates are
    products of multiplicative corrections (1 / detection, 1 / advertising shares, 1 / (1 -
    gate loss)), so an error is a factor: a low estimate has a long upper tail that r +- half
    cuts off. Unclipped; r <= 0 keeps r +- half (the rule of three then bounds it)."""
    if r <= 0 or half <= 0:
        return r - half, r + half
    x = half / r
    if x > 50:  # exp would overflow: the interval says nothing
        return 0.0, math.inf
    f = math.exp(x)
    return r / f, r * f


def ratio_ci(terms: Sequence[Term], *, confidence: float = 0.95, rel_cv: float = 0.0) -> RatioCI:
    """R = sum(num) / sum(den) with the larger of two variances.

    Between clusters (n >= 2): the linearised ratio-estimator variance
    n/(n-1) * sum (num_c - R den_c)^2 / (sum den)^2 (Cochran 1977, 6.9; clusters are visits or
    node-days, so correlation between windows of a visit stays inside a cluster), used with a
    t_{n-1} quantile. Within clusters (model): (sum var_num + R^2 sum var_den) / (sum den)^2,
    plus R^2 rel_cv^2 for a parameter (e.g. smartphone share) known only to a relative error.
    The half-width is applied on the log scale (`log_bounds`). Estimate and interval are
    clipped to [0, 1]; `raw` keeps the unbounded ratio (above 1 it
    flags a parameter or a gate that does not fit the site).
    """
    den = sum(t.den for t in terms)
    num = sum(t.num for t in terms)
    if den <= 0:
        raise ValueError("ratio with a zero denominator")
    r = num / den
    n = len(terms)
    var_model = (sum(t.var_num for t in terms) + r * r * sum(t.var_den for t in terms)) / den**2
    crit_model = z_quantile(confidence)
    var, crit, kind = var_model, crit_model, "model"
    if n >= 2:
        var_design = n / (n - 1) * sum((t.num - r * t.den) ** 2 for t in terms) / den**2
        crit_design = t_quantile(confidence, n - 1)
        # Compare half-widths, not variances: with few clusters the t quantile matters.
        if crit_design * math.sqrt(var_design) > crit_model * math.sqrt(var_model):
            var, crit, kind = var_design, crit_design, "clusters"
    # A parameter known only to a relative error (the share) is common to every cluster: its
    # error does not shrink with clusters and takes the normal quantile, not t_{n-1}.
    var_param = (r * rel_cv) ** 2
    half = math.sqrt((crit * crit * max(var, 0.0)) + crit_model**2 * var_param)
    se = half / crit_model if var_param > 0 else math.sqrt(max(var, 0.0))
    low, high = log_bounds(r, half)
    if num <= 0:
        high = max(high, _RULE_OF_THREE / den)
    value = min(1.0, max(0.0, r))
    return RatioCI(value, min(value, max(0.0, low)), max(value, min(1.0, high)), se, kind, n, raw=r)


def bootstrap_ci(
    terms: Sequence[Term], *, rng: random.Random, reps: int = 1000, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile cluster bootstrap of sum(num)/sum(den): resample whole clusters with
    replacement (Davison & Hinkley 1997, 3.8). Needs >= 2 clusters to say anything."""
    n = len(terms)
    if n < 2:
        raise ValueError("a cluster bootstrap needs at least two clusters")
    stats: list[float] = []
    for _ in range(reps):
        pick = [terms[rng.randrange(n)] for _ in range(n)]
        d = sum(t.den for t in pick)
        if d > 0:
            stats.append(sum(t.num for t in pick) / d)
    stats.sort()
    if not stats:
        raise ValueError("every bootstrap resample had a zero denominator")
    a = (1 - confidence) / 2
    lo = stats[min(len(stats) - 1, int(a * len(stats)))]
    hi = stats[min(len(stats) - 1, int((1 - a) * len(stats)))]
    return max(0.0, lo), min(1.0, hi)
