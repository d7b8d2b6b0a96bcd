"""Shared helpers for the simulator tests: a short simulated site, replayed through the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.simulator.capture import SimResult, simulate, write_simulation
from scanner.simulator.model import load_scenario
from scanner.sources.replay.reader import read_capture
from scanner.wire.schema import WindowReport

START = datetime(2020, 8, 10, 1, 7, tzinfo=UTC).timestamp()  # crosses the 01:15 ID rotation


def sim(name: str, seed: int, minutes: float, window_s: int = 60, **overrides: object) -> SimResult:
    sc = load_scenario(name)
    if overrides:
        sc = sc.with_overrides(**overrides)
    return simulate(sc, seed=seed, start=START, duration_s=minutes * 60, window_s=window_s)


def replay(path: Path, *, window_s: int, rssi_min_dbm: int) -> list[WindowReport]:
    """Replay a capture file through the real classifier and window counter."""
    out: list[WindowReport] = []
    p = Pipeline(
        Classifier(),
        identity=NodeIdentity(node="sim", site="sim"),
        sink=out.append,
        window_s=window_s,
        rssi_min_dbm=rssi_min_dbm,
    )
    last = None
    for a in read_capture(path):
        p.feed_raw(a.t, a.address, a.rssi_dbm, a.adv, a.scan_rsp)
        last = a.t
    p.finish(last)
    return out


def write(result: SimResult, path: Path) -> Path:
    write_simulation(result, path, path.with_suffix(".truth.json"))
    return path
