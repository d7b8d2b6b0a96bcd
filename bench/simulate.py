"""Simulator throughput and output size: a busy market, one simulated hour.

Times, in CPU seconds of this process, side by side in one run:
  1. `simulate()` alone (population, schedules, RSSI, truth): simulated adverts per second;
  2. writing the result as pcap (link type 256), btsnoop (H4) and JSONL: adverts/s and file
     size per simulated hour;
  3. the baseline: replaying the pcap through the real pipeline (read + classify + window),
     i.e. what consumes the simulator's output. The ratio says whether the simulator or the
     scanner is the bottleneck of `bzagg demo` and bench/accuracy.py.
Also prints how much faster than real time the whole simulate + write + replay chain runs.

    .venv/bin/python bench/simulate.py [--scenario market] [--minutes 60] [--seed 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.simulator.capture import simulate, write_simulation
from scanner.simulator.model import load_scenario
from scanner.sources.replay.reader import replay_into

START = datetime(2020, 8, 10, 1, 0, tzinfo=UTC).timestamp()


def _cpu(fn: object) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn()  # type: ignore[operator]
    return time.process_time() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="market")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="best of N for each timing")
    args = ap.parse_args()
    sc = load_scenario(args.scenario)
    hours = args.minutes / 60.0
    best_sim = float("inf")
    result = None
    for _ in range(args.repeat):
        dt, result = _cpu(
            lambda: simulate(sc, seed=args.seed, start=START, duration_s=args.minutes * 60)
        )
        best_sim = min(best_sim, dt)
    assert result is not None
    n = len(result.reports)  # type: ignore[attr-defined]
    truth = result.truth.summary  # type: ignore[attr-defined]
    print(
        f"scenario {sc.name}: {args.minutes:.0f} simulated min, {truth['people']} people on site "
        f"({truth['smartphones']} smartphones, {truth['bluezone']} Bluezone), "
        f"{truth['passersby']} passers-by"
    )
    print(
        f"simulate            {n:>10,} adverts  {best_sim:7.2f} s CPU  "
        f"{n / best_sim:>10,.0f} adverts/s"
    )
    with tempfile.TemporaryDirectory() as d:
        sizes = {}
        for suffix in ("pcap", "btsnoop", "jsonl"):
            path = Path(d) / f"market.{suffix}"
            best = float("inf")
            for _ in range(args.repeat):
                dt, _ = _cpu(lambda p=path: write_simulation(result, p))  # type: ignore[arg-type]
                best = min(best, dt)
            sizes[suffix] = path.stat().st_size
            print(
                f"write {suffix:<13} {n:>10,} adverts  {best:7.2f} s CPU  "
                f"{n / best:>10,.0f} adverts/s"
                f"  {sizes[suffix] / hours / 2**20:8.1f} MiB per simulated hour"
            )
        pcap = Path(d) / "market.pcap"
        best_replay = float("inf")
        for _ in range(args.repeat):
            sink: list[object] = []
            pipe = Pipeline(
                Classifier(),
                identity=NodeIdentity(node="bench", site="bench"),
                sink=sink.append,
                rssi_min_dbm=sc.rssi_min_dbm,
            )
            dt, _ = _cpu(lambda p=pipe: replay_into(pcap, p))
            best_replay = min(best_replay, dt)
        print(
            f"baseline: replay    {n:>10,} adverts  {best_replay:7.2f} s CPU  "
            f"{n / best_replay:>10,.0f} adverts/s (read + classify + window)"
        )
        chain = best_sim + best_replay
        print(
            f"ratio simulate / replay time: {best_sim / best_replay:.2f}; "
            f"simulate + replay run {args.minutes * 60 / chain:,.0f}x faster than real time"
        )


if __name__ == "__main__":
    main()
