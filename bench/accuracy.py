"""Accuracy of the adoption estimators on simulated visits with known truth: bias, RMSE, coverage.

    .venv/bin/python bench/accuracy.py [--visits 240] [--source pipeline|counts] [--seed 910000]

`pipeline`: the simulator's captures (scanner/simulator/capture.py) through the real replay
pipeline (classify -> window -> WindowReport) and the estimators. `counts`: a count-level model
without radio (bench/count_model.py) that shares the estimators' assumptions. Seeds start at
910000, disjoint from the seeds used in tests (< 10000). Targets for the head-count estimator:
|bias| <= 2 pp and 95 % interval coverage between 92 % and 98 %.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.count_model import Visit, simulate_counts
from scanner.estimation.estimate import METHODS, Estimate, clusters_from_reports, estimate
from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams, for_site_type

KINDS = ("office", "market", "counter")


def run_visit(
    source: str, kind: str, adoption: float, seed: int, which: str = "scenario"
) -> tuple[Visit, EstimationParams]:
    if source == "counts":
        visit = simulate_counts(kind, adoption, random.Random(seed))
        params = for_site_type(
            DEFAULT_PARAMS.override("bench: simulation truth", smartphone_share=0.7, ios_share=0.3),
            kind,
        )
        return visit, params
    from bench.sim_pipeline import simulate_pipeline  # needs the simulator and classifier

    return simulate_pipeline(kind, adoption, seed, which=which)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=240)
    ap.add_argument("--source", choices=("pipeline", "counts"), default="pipeline")
    ap.add_argument("--seed", type=int, default=910_000)
    ap.add_argument(
        "--params",
        choices=("scenario", "config"),
        default="scenario",
        help="pipeline: estimator parameters from the scenario or the config defaults",
    )
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    errors: dict[tuple[str, str], list[tuple[float, bool, float]]] = defaultdict(list)
    na: dict[tuple[str, str], int] = defaultdict(int)
    t0 = time.perf_counter()
    for i in range(args.visits):
        kind = KINDS[i % len(KINDS)]
        adoption = rng.uniform(0.05, 0.80)
        visit, params = run_visit(args.source, kind, adoption, args.seed + 1 + i, args.params)
        clusters = clusters_from_reports(visit.reports, params)
        clusters = [_with_head(c, visit.headcount) for c in clusters]
        for m in METHODS:
            e = estimate(m, clusters, params)
            truth = visit.truth_ios if m == "ios_internal" else visit.truth
            for key in ((m, kind), (m, "all")):
                if e.value is None or math.isnan(truth):
                    na[key] += 1
                else:
                    errors[key].append(_score(e, truth))
    dt = time.perf_counter() - t0
    last = args.seed + args.visits
    cal = "" if args.source == "counts" else "; calibration visits seeds 990000..990011"
    print(f"seed blocks: visits {args.seed + 1}..{last} (adoption draws from seed {args.seed})"
          f"{cal}")  # fmt: skip
    print(f"source={args.source} params={args.params} visits={args.visits} "
          f"seeds {args.seed + 1}..{last}"
          f" ({dt:.1f} s); truth = person-time weighted adoption among smartphone owners"
          " (iOS-internal: among iPhone owners)")  # fmt: skip
    print(f"{'estimator':16s} {'scenario':8s} {'n':>4s} {'n/a':>4s} {'bias pp':>8s} {'RMSE pp':>8s}"
          f" {'coverage':>8s} {'mean CI width pp':>16s}")  # fmt: skip
    for m in METHODS:
        for kind in (*KINDS, "all"):
            rows = errors[(m, kind)]
            if not rows:
                print(f"{m:16s} {kind:8s} {0:4d} {na[(m, kind)]:4d}   (not estimable)")
                continue
            bias = 100 * sum(r[0] for r in rows) / len(rows)
            rmse = 100 * math.sqrt(sum(r[0] ** 2 for r in rows) / len(rows))
            cover = 100 * sum(r[1] for r in rows) / len(rows)
            width = 100 * sum(r[2] for r in rows) / len(rows)
            print(f"{m:16s} {kind:8s} {len(rows):4d} {na[(m, kind)]:4d} {bias:+8.2f} {rmse:8.2f}"
                  f" {cover:7.1f}% {width:16.1f}")  # fmt: skip
    hc = errors[("headcount", "all")]
    if hc:
        bias = 100 * sum(r[0] for r in hc) / len(hc)
        cover = 100 * sum(r[1] for r in hc) / len(hc)
        ok = abs(bias) <= 2 and 92 <= cover <= 98
        print(
            f"head-count targets (|bias| <= 2 pp, coverage 92-98 %): {'MET' if ok else 'NOT MET'}"
        )
    return 0


def _score(e: Estimate, truth: float) -> tuple[float, bool, float]:
    assert e.value is not None and e.low is not None and e.high is not None
    return e.value - truth, e.low <= truth <= e.high, e.high - e.low


def _with_head(c, head):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(c, headcount=float(head))


if __name__ == "__main__":
    raise SystemExit(main())
