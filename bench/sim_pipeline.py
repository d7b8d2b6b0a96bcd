"""One simulated visit through the real replay pipeline: simulate, pcap, read, classify, count.

Used by bench/accuracy.py --source pipeline. The estimator's parameters are taken from the
scenario (what a calibrated deployment would know: smartphone and iOS shares, Doze share,
silent shares, mean dwell), or left at config/estimation.yaml's defaults with `--params config`.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.count_model import Visit
from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.estimation.clusters import slot_detection
from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams, for_site_type
from scanner.simulator.capture import simulate, write_simulation
from scanner.simulator.model import Scenario, ScenarioError, load_scenario
from scanner.sources.replay.reader import read_capture
from scanner.wire.schema import WindowReport

_CLASSIFIER: Classifier | None = None
# Used only when the simulator ships no scenario file of that kind.
_FALLBACK = {
    "office": {},
    "market": {"arrivals_per_hour": 240.0, "dwell_median_s": 900.0},
    "counter": {"arrivals_per_hour": 40.0, "dwell_median_s": 300.0},
}


def scenario(kind: str) -> tuple[Scenario, str]:
    try:
        return load_scenario(kind), f"packaged scenario {kind}"
    except ScenarioError:
        return Scenario(name=kind, kind=kind).with_overrides(**_FALLBACK[kind]), "bench fallback"


_CALIBRATION: dict[str, dict[str, float]] = {}
_BZ = ("android", "ios_bg", "ios_fg")  # Bluezone strata


def calibrate(sc: Scenario, visits: int = 12) -> dict[str, float]:
    """Per-window detection measured on calibration visits (seeds 990000.., disjoint from the
    bench's visits) through the same pipeline, as a field team would with known phones: the
    scanner's per-window count of each kind over the on-site devices present in the window
    (radio, gate, Doze, silent apps, counting together), pooled over 20-minute visits, and the
    visit-to-visit spread of the Bluezone detection (cv)."""
    if sc.name in _CALIBRATION:
        return _CALIBRATION[sc.name]
    cal = replace(sc, adoption_android=0.5, adoption_ios=0.5)
    sums: dict[str, list[float]] = {}
    per_visit: list[float] = []
    per_size: list[dict[str, float]] = []
    rot = 1 + 60 / 900  # address-keyed counts carry the rotation factor the estimator removes
    for k in range(visits):
        start = 1_597_640_400 + 86_400 * k + 900 * (k % 8)
        reports, res = run_pipeline(cal, 990_000 + k, start, 1200.0)
        truth = {w["start"]: w for w in res.truth.windows}
        ws = [truth[r.window_start] for r in reports]
        parts = {
            "android": (sum(r.count("bluezone", "android") for r in reports),
                        _present(ws, "android", "android_v1", "android_silent")),
            "ios_bg": (sum(r.count("bluezone", "ios_bg") for r in reports) / rot,
                       _present(ws, "ios_bg", "ios_silent")),
            "ios_fg": (sum(r.count("bluezone", "ios_fg") for r in reports) / rot,
                       _present(ws, "ios_fg")),
            "iphone": (sum(r.count("iphone") for r in reports) / rot,
                       float(sum(w["iphones"] for w in ws))),
        }  # fmt: skip
        for name, (h, n) in parts.items():
            acc = sums.setdefault(name, [0.0, 0.0])
            acc[0] += h
            acc[1] += n
        bz_heard = parts["android"][0] + parts["ios_bg"][0] + parts["ios_fg"][0]
        bz_present = parts["android"][1] + parts["ios_bg"][1] + parts["ios_fg"][1]
        if bz_present:
            per_visit.append(bz_heard / bz_present)
            # Bluezone phones present per window, by stratum: the thinning variance's N.
            per_size.append({k: parts[k][1] / len(reports) for k in _BZ})
    out = {name: (h / n if n else 1.0) for name, (h, n) in sums.items()}
    mean = sum(per_visit) / len(per_visit)
    sd = (sum((x - mean) ** 2 for x in per_visit) / (len(per_visit) - 1)) ** 0.5
    # detection_cv is the spread *beyond* binomial thinning (the estimator adds the thinning
    # variance N (1-p)/p itself), so the binomial part expected at the calibration visits'
    # sizes is taken off by the method of moments: cv_extra^2 = max(0, cv^2 - E[binomial
    # relvar]). Using the total cv counted thinning twice (offices covered 100 %).
    thin = {k: max(0.0, 1 / max(out[k], 0.01) - 1) for k in _BZ}
    binom = [sum(n * thin[k] for k, n in v.items()) / sum(v.values()) ** 2 for v in per_size]
    out["cv_total"] = sd / mean
    out["cv_binomial"] = (sum(binom) / len(binom)) ** 0.5
    out["cv"] = max(0.0, out["cv_total"] ** 2 - out["cv_binomial"] ** 2) ** 0.5
    _CALIBRATION[sc.name] = out
    return out


def _present(ws: list[dict[str, Any]], *strata: str) -> float:
    return float(sum(w["bluezone_by_stratum"][s] for w in ws for s in strata))


def params_for(sc: Scenario, which: str) -> EstimationParams:
    if which == "config":
        return for_site_type(DEFAULT_PARAMS, sc.kind)
    dwell = sc.dwell_median_s * math.exp(sc.dwell_sigma**2 / 2)  # lognormal mean
    cal = calibrate(sc)
    base = DEFAULT_PARAMS.override(
        f"scenario {sc.name}",
        smartphone_share=sc.smartphone_share,
        ios_share=sc.ios_share,
        android_doze_share=sc.android_doze_share,
        dwell_market_s=dwell,
        dwell_counter_s=dwell,
        android_advertising=1.0,
    )
    model = slot_detection(60.0, base)
    return for_site_type(
        base.override(
            f"calibration visit of scenario {sc.name}",
            # Above 1 means passers-by above the gate outnumber the on-site misses: kept, so
            # the calibration removes them on average.
            android_advertising=min(3.0, max(0.01, cal["android"] / model)),
            p_ios_bg=min(3.0, max(0.01, cal["ios_bg"])),
            p_ios_fg=min(3.0, max(0.01, cal["ios_fg"] or 1.0)),
            p_iphone=min(3.0, max(0.01, cal["iphone"])),
            detection_cv=cal["cv"],
        ),
        sc.kind,
    )


def run_pipeline(
    sc: Scenario, seed: int, start: float, duration: float
) -> tuple[list[WindowReport], Any]:
    """Simulate, write a pcap, replay it through the real pipeline; whole windows only."""
    global _CLASSIFIER
    if _CLASSIFIER is None:
        _CLASSIFIER = Classifier()
    res = simulate(sc, seed=seed, start=start, duration_s=duration)
    reports: list[WindowReport] = []
    with tempfile.TemporaryDirectory() as d:
        pcap = Path(d) / "visit.pcap"
        write_simulation(res, pcap)
        pipe = Pipeline(
            _CLASSIFIER,
            identity=NodeIdentity("bench", f"bench-{sc.kind}", mode="simulated", clock_synced=True),
            sink=reports.append,
            window_s=60,
            rssi_min_dbm=sc.rssi_min_dbm,
        )
        pipe.start(start)
        pipe.feed_many(read_capture(pcap))
        pipe.finish(start + duration)
    # Only whole windows inside the visit: the first and last may be partly covered.
    # The slot's capture histories come with the window the end of input closes: keep it.
    reports = [
        r
        for r in reports
        if start <= r.window_start and (r.window_end <= start + duration or r.capture)
    ]
    return reports, res


def simulate_pipeline(
    kind: str, adoption: float, seed: int, *, minutes: int = 20, which: str = "scenario"
) -> tuple[Visit, EstimationParams]:
    sc, _ = scenario(kind)
    sc = replace(sc, adoption_android=adoption, adoption_ios=adoption)
    # Visits start on a UTC quarter hour + a few minutes, on a weekday morning in Aug 2020.
    start = 1_597_633_200 + 900 * (seed % 32) + 60 * (seed % 7)
    reports, res = run_pipeline(sc, seed, start, 60.0 * minutes)
    heads = [w["people_at_mid"] for w in res.truth.windows if w["covered_s"] >= 60]
    headcount = round(sum(heads) / len(heads)) if heads else 0  # the inspector's snapshot count
    s = res.truth.summary
    truth = s["adoption_person_time"]
    truth_ios = s["adoption_iphone"]
    visit = Visit(
        kind, adoption, reports, headcount,
        math.nan if truth is None else float(truth),
        math.nan if truth_ios is None else float(truth_ios),
    )  # fmt: skip
    return visit, params_for(sc, which)
