"""Accuracy of the pooled district figures over simulated provinces: bias, RMSE, coverage.

    .venv/bin/python bench/accuracy_pooled.py [--districts 60] [--seed 920000] [--calibrated]

`pooled_rows` pools bench/accuracy.py's blind pipeline visits the same way (it prints them).

Each district has 2-5 sites of mixed types (office with a head count, market, counter), each
visited 1-3 times, through the count-level model (bench/pooled_model.py, bench/count_model.py),
then the aggregator's own pooling (aggregator/report/pooling.py): cluster sums as the node and
the store compute them, one PSU per visit, site type as strata. Blind design (default): the
smartphone share (0.5-0.95), iOS share (0.1-0.5), Doze share (0-0.6), mean stay (5-40 min) and
neighbours outside the gate are drawn per site and the estimator is not told (it keeps
config/estimation.yaml's defaults); `--calibrated` gives the registry each site's true shares
and leaves out the neighbours. Truth: Bluezone person-time over smartphone-owner person-time of
the district's visits. Seeds from 920000, disjoint from the tests' (< 10000).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.report.headline import AT, BELOW, verdict
from aggregator.report.pooling import cluster_pair, pairs_for, pooled_ratio
from aggregator.sites import Registry, site_from_mapping
from bench.pooled_model import KINDS, simulate_district
from scanner.estimation.calibration import with_calibration
from scanner.estimation.estimate import DevicesHat, clusters_from_reports
from scanner.estimation.params import DEFAULT_PARAMS, for_site_type

TARGET = 0.5


def pooled_rows(results: Sequence[Mapping[str, Any]], size: int = 6) -> str:
    """Pool bench/accuracy.py's visits into districts of `size` consecutive visits (one site
    each, site type as strata; head count x assumed share, as `bzagg report` pools), against
    the truth of those visits (Bluezone over smartphone-owner person-seconds). A district
    uses its first visit's calibration (`cal`, the gate loss its province measured), if any."""
    err: list[float] = []
    hits: list[bool] = []
    widths: list[float] = []
    for k in range(0, len(results) - size + 1, size):
        group = results[k : k + size]
        cal = group[0].get("cal")
        pairs = [
            q for r in group for c in r["clusters"]
            if (q := cluster_pair(
                c, with_calibration(for_site_type(DEFAULT_PARAMS, r["kind"]), cal),
                stratum=r["kind"],
            ))
        ]  # fmt: skip
        p = pooled_ratio(pairs)
        phone_s = sum(r["phone_s"] for r in group)
        if p.value is None or p.low is None or p.high is None or phone_s <= 0:
            continue
        truth = sum(r["bz_s"] for r in group) / phone_s
        err.append(p.value - truth)
        hits.append(p.low <= truth <= p.high)
        widths.append(p.high - p.low)
    if not err:
        return "pooled districts: none estimable"
    n = len(err)
    return (
        f"pooled districts of {size} visits (bzagg report's pooling): {n} districts, bias "
        f"{100 * statistics.fmean(err):+.2f} pp, RMSE "
        f"{100 * math.sqrt(statistics.fmean(e * e for e in err)):.2f} pp, coverage "
        f"{100 * sum(hits) / n:.1f} %, median width {100 * statistics.median(widths):.1f} pp"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--districts", type=int, default=60)
    ap.add_argument("--seed", type=int, default=920_000)
    ap.add_argument("--calibrated", action="store_true", help="registry knows the true shares")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rng = random.Random(args.seed)
    err: list[float] = []
    cover = false_at = false_below = decided = 0
    widths: list[float] = []
    by_mix: dict[str, list[tuple[float, bool]]] = {}
    for k in range(args.districts):
        kinds = tuple(rng.choice(KINDS) for _ in range(rng.randint(2, 5)))
        if "office" not in kinds and rng.random() < 0.5:
            kinds = ("office", *kinds)
        d = simulate_district(f"D{k:03d}", rng, blind=not args.calibrated, sites=kinds,
                              visits=rng.randint(1, 3))  # fmt: skip
        registry = Registry({s["id"]: site_from_mapping(s, "bench") for s in d.sites})
        pf = registry.params_for(DEFAULT_PARAMS)
        clusters = [c for sid in registry.sites for c in clusters_from_reports(
            [r for r in d.reports if r.site == sid], pf(sid))]  # fmt: skip
        cache: dict[int, DevicesHat] = {}
        pairs = [q for q in pairs_for(clusters, registry, pf, cache).values() if q is not None]
        p = pooled_ratio(pairs)
        if p.value is None or p.low is None or p.high is None or math.isnan(d.truth):
            continue
        hit = p.low <= d.truth <= p.high
        err.append(p.value - d.truth)
        cover += hit
        widths.append(p.high - p.low)
        v = verdict(p, TARGET).status
        decided += v in (AT, BELOW)
        false_at += v == AT and d.truth < TARGET
        false_below += v == BELOW and d.truth >= TARGET
        mix = "with office" if "office" in kinds else "no office"
        by_mix.setdefault(mix, []).append((p.value - d.truth, hit))
    n = len(err)
    design = "calibrated registry" if args.calibrated else "blind (estimator not told)"
    print(f"pooled district figures, {design}: {n} districts, seed {args.seed}, "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    print(f"  bias {100 * statistics.fmean(err):+.1f} pp, RMSE "
          f"{100 * math.sqrt(statistics.fmean(e * e for e in err)):.1f} pp, 95 % coverage "
          f"{100 * cover / n:.1f} %, median width "
          f"{100 * statistics.median(widths):.1f} pp")  # fmt: skip
    print(f"  decided against {TARGET:.0%}: {decided}/{n}; at target with truth below: "
          f"{false_at}; below target with truth at/above: {false_below}")  # fmt: skip
    for mix, xs in sorted(by_mix.items()):
        bias = 100 * statistics.fmean(e for e, _ in xs)
        print(f"  {mix:11s}: {len(xs)} districts, bias {bias:+.1f} pp, coverage "
              f"{100 * sum(h for _, h in xs) / len(xs):.1f} %")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
