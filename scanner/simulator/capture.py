"""Site simulator: a seeded capture of an office, market or counter with its ground truth.

`simulate(scenario, seed=, start=, duration_s=)` returns the host-level RawAdverts a scanner at the
site would have reported (time-ordered) and a `Truth`; `write_simulation` writes them through the
capture writers (pcap 256, pcapng, btsnoop, JSONL) plus a truth JSON. Everything is decided by
`random.Random(seed)` (no global RNG): the same seed gives the same bytes.

What is modelled, and where it comes from, is in `simulate_people` (who is there),
`simulate_devices` (advertising schedules, addresses, RSSI, effective capture) and the scenario
YAML files.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from scanner.ble.advert import RawAdvert
from scanner.counting.window import APPLE_GATE_OFFSET_DB, APPLE_SENT, RSSI_GATE_OFF
from scanner.simulator import fleet
from scanner.simulator.devices import Report
from scanner.simulator.model import Scenario
from scanner.simulator.people import Person, population
from scanner.simulator.truth import Truth, build_truth

__all__ = ["SimResult", "Truth", "simulate", "write_simulation"]

# Time stamps are kept 1.5 ms clear of whole seconds (every window edge is a whole second), so a
# scan response written 0.5 ms after its advert lands in the same window in every format.
_EDGE_GUARD_S: Final = 0.9985


@dataclass(frozen=True, slots=True)
class SimResult:
    scenario: Scenario
    seed: int
    start: float
    duration_s: float
    reports: list[Report]
    persons: list[Person]
    truth: Truth

    def adverts(self) -> Iterator[RawAdvert]:
        """The capture as RawAdverts, in time order (built lazily to keep memory low)."""
        for t, addr, rssi, adv, rsp, pdu, _tags in self.reports:
            yield RawAdvert(t=t, address=addr, rssi_dbm=rssi, adv=adv, scan_rsp=rsp, pdu=pdu)


# The counter's gate per signal: Apple-sent keys meet the gate plus the iPhone TX offset.
_APPLE: Final = {f"{c}/{s}": APPLE_GATE_OFFSET_DB for c, s in APPLE_SENT}


def _guard(t: float) -> float:
    t = round(t, 6)
    whole = math.floor(t)
    return whole + _EDGE_GUARD_S if t - whole > _EDGE_GUARD_S else t


def simulate(
    scenario: Scenario, *, seed: int, start: float, duration_s: float, window_s: int = 60
) -> SimResult:
    """Simulate `duration_s` s of `scenario` from UTC epoch `start`; deterministic per seed."""
    if duration_s <= 0:
        raise ValueError("duration_s must be > 0")
    rng = random.Random(seed)
    end = start + duration_s
    persons = population(scenario, rng, start, end)
    devices = fleet.devices(scenario, rng, persons, start, end)
    reports: list[Report] = []
    gate = scenario.rssi_min_dbm
    # (window start, "category/stratum") -> indices of devices heard with that signal
    heard: dict[tuple[int, str], set[int]] = {}
    heard_any: dict[tuple[int, str], set[int]] = {}
    # (window start, signal, device) -> [packets, packets at or above the gate]
    tally: dict[tuple[int, str, int], list[int]] = {}
    for i, (dev, kind) in enumerate(devices):
        for r in fleet.emit(scenario, dev, kind, persons):
            t = _guard(r[0])
            if not start <= t < end:
                continue
            reports.append((t, *r[1:]))
            w = int(t // window_s) * window_s
            for tag in r[6]:
                heard_any.setdefault((w, tag), set()).add(i)
                t_ = tally.setdefault((w, tag, i), [0, 0])
                t_[0] += 1
                if r[2] >= (gate + _APPLE.get(tag, 0) if gate > RSSI_GATE_OFF else gate):
                    heard.setdefault((w, tag), set()).add(i)
                    t_[1] += 1
    reports.sort(key=lambda r: r[0])
    # The counter's on-site rule (a median at or over the gate) at device level.
    heard_median: dict[tuple[int, str], set[int]] = {}
    for (w, tag, i), (n, above) in tally.items():
        if 2 * above >= n:
            heard_median.setdefault((w, tag), set()).add(i)
    truth = build_truth(
        scenario,
        persons,
        heard,
        heard_any,
        heard_median,
        start=start,
        end=end,
        window_s=window_s,
        seed=seed,
        adverts=len(reports),
    )
    return SimResult(scenario, seed, start, duration_s, reports, persons, truth)


def write_simulation(
    result: SimResult,
    out: str | Path,
    truth_path: str | Path | None = None,
    *,
    fmt: str | None = None,
) -> int:
    """Write the capture (format from `fmt` or the file suffix) and the truth JSON."""
    from scanner.sources.replay.write import CaptureWriter

    path = Path(out)
    kind = fmt or {".btsnoop": "btsnoop", ".jsonl": "jsonl", ".pcapng": "pcapng"}.get(
        path.suffix.lower(), "pcap"
    )
    with CaptureWriter(path, kind) as w:  # type: ignore[arg-type]  # checked by the writer
        n = w.write_all(result.adverts())
    if truth_path is not None:
        Path(truth_path).write_text(
            json.dumps(result.truth.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    return n
