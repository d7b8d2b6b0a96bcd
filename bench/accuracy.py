"""Blind accuracy of the adoption estimators: bias, RMSE, coverage and interval width.

    .venv/bin/python bench/accuracy.py [--visits 900] [--jobs 2] [--seed 1000000] [--minutes 20]
        [--gate calibrated|DBM] [--calibration-visits 60] [--calibration-pool 300]
        [--calibration-seed 1005000] [--office-staff 30]

Every simulation parameter is drawn per visit from wide ranges (BLIND_RANGES), and the estimator
gets only what the field gives: the site type, the inspector's head count, the smartphone owners
counted at offices and counters (asked; at markets the share is assumed), the packaged
config/estimation.yaml, and calibration visits: offices and counters (their own seeds, drawn from
the same ranges) where the inspector also counted the Bluezone users present by asking to see
the app; from them the gate's net loss is measured (scanner/estimation/calibration.py) as
`bzagg report` does from the registry's `bluezone_shown`. A pool of such visits is simulated
once and each scored visit gets its own province's calibration, `--calibration-visits` of them
drawn from the pool: a single calibration for all would shift every bias by its own error.
Visits go through the real pipeline (simulate -> pcap -> replay -> classify -> window ->
WindowReport). Figures per site type and
per stratum (low/high half of each drawn range), worst stratum named, each bias with the 95 %
margin of its own sampling error. "priors only" rows skip the calibration; the "oracle" rows
give the prior-based estimator the drawn Doze share, shares and dwell, for comparison only.
`--gate calibrated` (default) sets each visit's RSSI gate where `bzscan calibrate` would put
it (the median RSSI of a Bluezone Android phone at the boundary); `--gate -90` uses a fixed gate.
Seeds 1000000.. (validation) and 1005000.. (calibration) are disjoint from the tests' (< 10000),
the development seeds (940000.., 945000.., 946000..), the bench's older ones (990000..) and the
earlier validation blocks (920000.., 960000.., 970000.., 980000.., 985000..).
Targets (head-count): |bias| <= 2 pp and coverage 92-98 % per site type, no stratum worse than
4 pp, a 20-minute office visit at RMSE <= 6 pp.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.accuracy_pooled import pooled_rows
from bench.gate_loss_prior import PATH_LOSS_EXPONENT, POCKET_SHARE, SHADOWING_SD_DB
from scanner.estimation.calibration import (
    CalibrationVisit,
    GateCalibration,
    calibrate_gate,
    node_count,
    with_calibration,
)
from scanner.estimation.clusters import clusters_from_reports
from scanner.estimation.methods import Estimate, Method, estimate
from scanner.estimation.params import DEFAULT_PARAMS, for_site_type
from scanner.simulator.model import Scenario

KINDS = ("office", "market", "counter")
# name: (low, high) drawn uniformly per visit; the estimator is told none of them.
BLIND_RANGES: dict[str, tuple[float, float]] = {
    "android_doze_share": (0.0, 0.5),
    "ios_bg_silent_share": (0.1, 0.6),  # background iPhones whose app does not advertise
    "dwell_median_min": (2.0, 40.0),
    "neighbours_per_hour": (0.0, 120.0),  # passers-by and neighbours just outside the gate
    "neighbour_rssi_dbm": (-100.0, -85.0),
    "neighbour_stay_min": (1.0, 20.0),
    "wall_loss_db": (0.0, 12.0),
    "smartphone_share": (0.5, 0.95),
    "ios_share": (0.1, 0.5),
    "inactive_share": (0.0, 0.15),  # installs that never advertise
    "old_app_share": (0.0, 0.1),
    "clock_sd_s": (0.0, 30.0),
    "fading_sd_db": (2.0, 6.0),
    # Radio physics of the site: the ranges bench/gate_loss_prior.py derives the gate-loss
    # prior over (geometry only); the estimator is told no visit's draw.
    "path_loss_exponent": PATH_LOSS_EXPONENT,
    "shadowing_sd_db": SHADOWING_SD_DB,
    "pocket_share": POCKET_SHARE,
}
OFFICE_STAFF = 30
BASE = {
    "office": {"kind": "office", "staff": OFFICE_STAFF, "visitors_per_hour": 6.0},
    "market": {"kind": "market", "staff": 10, "arrivals_per_hour": 240.0},
    "counter": {"kind": "counter", "staff": 4, "arrivals_per_hour": 40.0},
}


def draw(kind: str, rng: random.Random) -> tuple[Scenario, dict[str, float]]:
    d = {k: rng.uniform(lo, hi) for k, (lo, hi) in BLIND_RANGES.items()}
    adoption = rng.uniform(0.05, 0.8)
    # Distance at which a neighbour's phone has the drawn mean RSSI (log-distance with the drawn
    # exponent, -57 dBm at 1 m for a default-power Android), before the wall loss.
    n = d["path_loss_exponent"]
    dist = 10 ** ((-57 - d["neighbour_rssi_dbm"]) / (10 * n))
    sc = Scenario(name=f"blind-{kind}", **BASE[kind]).with_overrides(  # type: ignore[arg-type]
        adoption_android=adoption, adoption_ios=adoption,
        android_doze_share=d["android_doze_share"], ios_bg_silent_share=d["ios_bg_silent_share"],
        dwell_median_s=60 * d["dwell_median_min"],
        absence_median_s=60 * d["dwell_median_min"],
        passersby_per_hour=d["neighbours_per_hour"],
        passersby_distance_m=(0.8 * dist, 1.25 * dist),
        passersby_dwell_s=60 * d["neighbour_stay_min"], passersby_wall_loss_db=d["wall_loss_db"],
        smartphone_share=d["smartphone_share"], ios_share=d["ios_share"],
        android_no_adv_share=d["inactive_share"], android_v1_share=d["old_app_share"],
        clock_offset_sd_s=d["clock_sd_s"], fading_sd_db=d["fading_sd_db"],
        path_loss_exponent=n, shadowing_sd_db=d["shadowing_sd_db"],
        body_loss_share=d["pocket_share"],
    )  # fmt: skip
    # The gate `bzscan calibrate` proposes: the median RSSI of the inspector's Bluezone Android
    # (low TX power) walked along the boundary, body loss included on average.
    gate = -65 - 10 * n * math.log10(sc.radius_m) - sc.body_loss_share * sc.body_loss_db
    return sc.with_overrides(rssi_min_dbm=round(gate)), d


Job = tuple[int, str, int, int | None, GateCalibration | None, int]


def one_visit(job: Job) -> dict[str, Any]:
    from bench.sim_pipeline import run_pipeline

    seed, kind, minutes, gate, cal, office_staff = job
    sc, drawn = draw(kind, random.Random(seed))
    if kind == "office":
        sc = sc.with_overrides(staff=office_staff)
    if gate is not None:
        sc = sc.with_overrides(rssi_min_dbm=gate)
    start = 1_597_633_200 + 900 * (seed % 32) + 60 * (seed % 7)
    reports, res = run_pipeline(sc, seed, start, 60.0 * minutes)
    ws = [w for w in res.truth.windows if w["covered_s"] >= 60]
    head = round(sum(w["people_at_mid"] for w in ws) / len(ws)) if ws else 0
    phones = round(sum(w["smartphones_mean"] for w in ws) / len(ws)) if ws else 0
    s = res.truth.summary
    clusters = [replace(c, headcount=float(head)) for c in clusters_from_reports(reports)]
    asked = [replace(c, smartphones=float(phones)) for c in clusters]
    priors = for_site_type(DEFAULT_PARAMS, kind)
    blind = with_calibration(priors, cal)
    dwell = sc.dwell_median_s * math.exp(sc.dwell_sigma**2 / 2)
    oracle = for_site_type(
        DEFAULT_PARAMS.override(
            "oracle: the drawn scenario", smartphone_share=sc.smartphone_share,
            ios_share=sc.ios_share, android_doze_share=sc.android_doze_share,
            dwell_market_s=dwell, dwell_counter_s=dwell, smartphone_share_cv=0.0,
            capture_min_pairs=1e9, android_advertising=1 - sc.android_no_adv_share,
            ios_bg_advertising=1 - sc.ios_bg_silent_share, android_advertising_sd=0.0,
            ios_bg_advertising_sd=0.0,
        ),
        kind,
    )  # fmt: skip
    out: dict[str, Any] = {
        "kind": kind, "drawn": drawn, "truth": s["adoption_person_time"],
        "truth_ios": _iphone_person_time(res.truth.visits), "clusters": clusters,
        "bz_s": s["bluezone_seconds"], "phone_s": s["smartphone_seconds"],
        # A calibration visit: the Bluezone users present, as the inspector counts them.
        "shown": round(s["bluezone_seconds"] / max(1.0, res.truth.end - res.truth.start)),
        "phones": phones, "cal": cal,
    }  # fmt: skip
    # Offices and counters: the inspector asks who carries a smartphone; markets: assumed.
    hc = asked if kind != "market" else clusters
    out["headcount"] = _pack(estimate(Method.HEADCOUNT, hc, blind))
    out["ios_internal"] = _pack(estimate(Method.IOS_INTERNAL, clusters, blind))
    out["headcount_share"] = _pack(estimate(Method.HEADCOUNT, clusters, blind))
    out["oracle"] = _pack(estimate(Method.HEADCOUNT, clusters, oracle))
    out["priors"] = _pack(estimate(Method.HEADCOUNT, hc, priors))
    return out


def _calibration_visit(r: dict[str, Any]) -> CalibrationVisit:
    count = node_count(r["clusters"], for_site_type(DEFAULT_PARAMS, r["kind"]))
    return CalibrationVisit(site=r["kind"], estimated=count or 0.0, shown=r["shown"])


def _office_floor(offices: list[dict[str, Any]]) -> str:
    """The RMSE no office estimator can beat: which Bluezone phones the gate misses (the visit's
    calibrated loss), which installs never advertise and which background iPhones are silent
    are draws per phone that no data on the wire shows. With q the chance a Bluezone phone is
    invisible for any of them, the corrected count of B phones varies by B q / (1 - q); an
    office's people stay all visit, so these do not average out (Doze is left out: a floor)."""
    var: list[float] = []
    owners: list[int] = []
    for r in offices:
        m, dr = r["phones"], r["drawn"]
        if m <= 0:
            continue
        g = r["cal"].gate_loss if r["cal"] is not None else DEFAULT_PARAMS.gate_loss.value
        ios = dr["ios_share"]
        unseen = (1 - ios) * dr["inactive_share"] + ios * 0.95 * dr["ios_bg_silent_share"]
        q = min(0.95, g + (1 - g) * unseen)
        var.append(r["truth"] * m * q / (1 - q) / m**2)
        owners.append(m)
    if not var:
        return "office floor: no office with smartphone owners"
    floor = 100 * math.sqrt(statistics.fmean(var))
    median = statistics.median(owners)
    need = median * (floor / 6) ** 2
    return (f"  floor from per-phone draws no estimator sees (gate misses, installs that never "
            f"advertise, silent background iPhones): {floor:.1f} pp at a median of {median:.0f} "
            f"smartphone owners; this floor alone is 6 pp at about {need:.0f} owners")  # fmt: skip


def _iphone_person_time(visits: list[dict[str, Any]]) -> float | None:
    """Bluezone person-time among iPhone owners (as the head-count truth, person-time)."""
    t = [(v["present_s"], v["bluezone"]) for v in visits if v["phone"] == "iphone"]
    den = sum(x for x, _ in t)
    return sum(x for x, bz in t if bz) / den if den > 0 else None


def _pack(e: Estimate) -> tuple[float | None, float | None, float | None, str, float | None]:
    det = e.detection.value if e.detection is not None else "-"
    return e.value, e.low, e.high, det, e.raw


def _row(label: str, rows: list[tuple[float, bool, float]]) -> str:
    if not rows:
        return f"{label:34s}    0  (not estimable)"
    n = len(rows)
    bias = 100 * sum(r[0] for r in rows) / n
    rmse = 100 * math.sqrt(sum(r[0] ** 2 for r in rows) / n)
    cover = 100 * sum(r[1] for r in rows) / n
    width = 100 * sorted(r[2] for r in rows)[n // 2]
    # The bias is a mean over n visits: its own 95 % margin says what the sample can resolve.
    sd = math.sqrt(max(0.0, rmse**2 - bias**2) * n / max(1, n - 1))
    margin = 1.96 * sd / math.sqrt(n)
    return (f"{label:34s} {n:4d} {bias:+8.2f} {margin:6.2f} {rmse:8.2f} {cover:7.1f}% "
            f"{width:10.1f}")  # fmt: skip


def _score(v: tuple[Any, ...], truth: float | None) -> tuple[float, bool, float] | None:
    if v[0] is None or truth is None:
        return None
    return v[0] - truth, v[1] <= truth <= v[2], v[2] - v[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 300 visits per site type: a bias is then known to about +-1.3 pp (100 per type: +-2).
    ap.add_argument("--visits", type=int, default=900)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1_000_000)
    ap.add_argument("--minutes", type=int, default=20)
    ap.add_argument("--gate", default="calibrated", help="'calibrated' or a fixed gate in dBm")
    ap.add_argument(
        "--calibration-visits",
        type=int,
        default=60,
        help="offices and counters where everyone present shows the app (0: none)",
    )
    ap.add_argument("--calibration-seed", type=int, default=1_005_000)
    ap.add_argument(
        "--calibration-pool",
        type=int,
        default=300,
        help="calibration visits simulated; each visit draws its province's from them",
    )
    ap.add_argument(
        "--office-staff",
        type=int,
        default=OFFICE_STAFF,
        help="staff of the scored offices (calibration offices keep the default)",
    )
    args = ap.parse_args(argv)
    gate = None if args.gate == "calibrated" else int(args.gate)
    per = args.calibration_visits
    pool_n = max(per, args.calibration_pool) if per > 0 else 0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        cal_jobs = [
            (args.calibration_seed + 1 + i, ("office", "counter")[i % 2], args.minutes, gate, None,
             OFFICE_STAFF)
            for i in range(pool_n)
        ]  # fmt: skip
        pool = [_calibration_visit(r) for r in ex.map(one_visit, cal_jobs, chunksize=4)]
        # One calibration shared by every visit would put its own sampling error into every
        # bias alike: each visit is scored as if its province had made `per` calibration
        # visits of its own, drawn from the pool; only the pool's (smaller) error is shared.
        jobs = [
            (args.seed + 1 + i, KINDS[i % 3], args.minutes, gate,
             calibrate_gate(random.Random(f"cal-{args.seed + 1 + i}").sample(pool, per))
             if per > 0 else None, args.office_staff)
            for i in range(args.visits)
        ]  # fmt: skip
        results = list(ex.map(one_visit, jobs, chunksize=4))
    dt = time.perf_counter() - t0
    cal = calibrate_gate(pool) if pool else None
    print(f"blind design: {args.visits} visits of {args.minutes} min, seeds {jobs[0][0]}.."
          f"{jobs[-1][0]} ({dt:.0f} s, {args.jobs} jobs), gate {args.gate}; truth = person-time "
          "adoption among smartphone owners (iOS-internal: among iPhone owners)")  # fmt: skip
    if cal is None:
        print("gate loss: the prior (no calibration visits)")
    else:
        losses = sorted(j[4].gate_loss for j in jobs if j[4] is not None)
        each = (
            f"5-95 % {losses[len(losses) // 20]:.3f}-{losses[-1 - len(losses) // 20]:.3f}"
            if losses else "too few with someone shown: the prior"
        )  # fmt: skip
        print(f"gate loss over the pool {cal.gate_loss:.3f} (standard error {cal.se:.3f}"
              f"), {pool_n} calibration visits, seeds {cal_jobs[0][0]}..{cal_jobs[-1][0]} "
              f"(offices and counters; prior {DEFAULT_PARAMS.gate_loss.value}); each visit's "
              f"from {per} of them: {each}")  # fmt: skip
        # The pool's error is common to every visit: a bias moves with it, beyond its margin.
        shared = (
            196
            * cal.se
            / cal.ratio
            * statistics.fmean(r["headcount"][0] for r in results if r["headcount"][0] is not None)
        )
        print(
            f"(the pool's own error moves every head-count bias alike, by up to +-{shared:.2f}"
            " pp at 95 %, beyond each row's margin)"
        )
    print(f"{'estimator / rows':34s} {'n':>4s} {'bias pp':>8s} {'+-95%':>6s} {'RMSE pp':>8s}"
          f" {'cover':>8s} {'med. width':>10s}")  # fmt: skip
    labels = {
        "headcount": "head-count (share asked: off/cnt)",
        "headcount_share": "head-count, share assumed",
        "priors": "head-count, priors only (no calibration)",
        "ios_internal": "iOS-internal",
        "oracle": "ORACLE prior model, told params",
    }
    verdict = True
    for est, label in labels.items():
        for kind in (*KINDS, "all"):
            rows = [
                sc for r in results if kind in ("all", r["kind"])
                if (sc := _score(r[est], r["truth_ios" if est == "ios_internal" else "truth"]))
            ]  # fmt: skip
            print(_row(f"{label[:24]:24s} {kind:9s}", rows))
            if est == "headcount" and kind != "all" and rows:
                bias = 100 * sum(x[0] for x in rows) / len(rows)
                cover = 100 * sum(x[1] for x in rows) / len(rows)
                verdict &= abs(bias) <= 2 and 92 <= cover <= 98
    office = [
        sc for r in results if r["kind"] == "office" if (sc := _score(r["headcount"], r["truth"]))
    ]  # fmt: skip
    if office:
        rmse = 100 * math.sqrt(sum(x[0] ** 2 for x in office) / len(office))
        print(f"{args.minutes}-min office visit with a head count (smartphones asked): RMSE "
              f"{rmse:.1f} pp (target <= 6 pp: {'MET' if rmse <= 6 else 'NOT MET'})")  # fmt: skip
        print(_office_floor([r for r in results if r["kind"] == "office"]))
    print(pooled_rows(results))
    misfits = sum(1 for r in results if (r["headcount"][4] or 0) > 1)
    measured = sum(1 for r in results if r["headcount"][3] == "measured")
    print(f"head-count: raw ratio > 1 (misfit, reported as 100 % with its reason) in {misfits}"
          f" visits; detection measured in {measured}/{len(results)} visits")  # fmt: skip
    print("\nhead-count by stratum (low / high half of each drawn range):")
    worst = ("", 0.0)
    for name, (lo, hi) in BLIND_RANGES.items():
        mid = (lo + hi) / 2
        for half, test in (("low", lambda x, m=mid: x < m), ("high", lambda x, m=mid: x >= m)):
            rows = [
                sc for r in results if test(r["drawn"][name])
                if (sc := _score(r["headcount"], r["truth"]))
            ]  # fmt: skip
            print(_row(f"  {name} {half}", rows))
            if rows:
                b = 100 * sum(x[0] for x in rows) / len(rows)
                if abs(b) > abs(worst[1]):
                    worst = (f"{name} {half}", b)
    print(
        f"worst stratum: {worst[0]} (bias {worst[1]:+.2f} pp; target |bias| <= 4 pp: "
        f"{'MET' if abs(worst[1]) <= 4 else 'NOT MET'})"
    )
    print(f"per-site-type head-count targets (|bias| <= 2 pp, coverage 92-98 %): "
          f"{'MET' if verdict else 'NOT MET'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
