"""One simulated visit through the real replay pipeline: simulate, pcap, read, classify, count.

Used by bench/accuracy.py, which draws each visit's scenario blind and gives the estimator only
what the field gives. (The scenario-calibrated parameters this module once handed the
estimator made that validation circular and are gone.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.simulator.capture import simulate, write_simulation
from scanner.simulator.model import Scenario
from scanner.sources.replay.reader import read_capture
from scanner.wire.schema import WindowReport

_CLASSIFIER: Classifier | None = None


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
