"""The `bzagg demo` plan: the province's sites and nodes, and the capture segments to simulate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aggregator.errors import AggregatorError
from scanner.simulator.model import Scenario, load_scenario, scenario_from_dict


class DemoError(AggregatorError, ValueError):
    """A province plan that cannot be used; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One capture to simulate and replay: a node at its site for a stretch of time."""

    node: str
    site: str
    kind: str  # fixed | visit
    scenario: Scenario
    start: float
    duration_s: float
    seed: int
    headcount: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    day: str
    target: float | None
    deadline: str | None
    sites: list[dict[str, Any]]
    segments: list[Segment] = field(default_factory=list)

    @property
    def nodes(self) -> list[str]:
        return list(dict.fromkeys(s.node for s in self.segments))


def load_province(path: Path | None = None) -> dict[str, Any]:
    if path is None:
        res = resources.files("scanner.simulator") / "scenarios" / "province.yaml"
        text = res.read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "nodes" not in data or "sites" not in data:
        raise DemoError(f"{path or 'province.yaml'}: needs `sites:` and `nodes:`")
    return data


def _at(day: datetime, hhmm: str) -> float:
    h, m = (int(x) for x in str(hhmm).split(":"))
    return day.timestamp() + h * 3600 + m * 60


def make_plan(province: dict[str, Any], *, seed: int, quick: bool) -> Plan:
    """Segments in a fixed order; --quick keeps the `quick: true` nodes and fewer, shorter ones."""
    day = datetime.strptime(str(province.get("day", "2020-08-10")), "%Y-%m-%d").replace(tzinfo=UTC)
    h0, h1 = province.get("hours_utc", [0, 10])
    hours = list(range(int(h0), int(h1)))
    sample_s = 60 * int(province.get("sample_minutes", 6))
    profile = [float(x) for x in province.get("profile", [])] or [1.0]
    if quick:
        hours, sample_s = hours[1:3], 180
    segments: list[Segment] = []
    for i, n in enumerate(province["nodes"]):
        if quick and not n.get("quick"):
            continue
        where = f"province node {n.get('node')!r}"
        base = load_scenario(str(n["scenario"]))
        merged = {**_as_dict(base), **(n.get("overrides") or {})}
        sc = scenario_from_dict(merged, where=where)
        if n.get("kind") == "fixed":
            for j, h in enumerate(hours):
                rate = sc.arrivals_per_hour * profile[(h - hours[0]) % len(profile)]
                segments.append(
                    Segment(
                        n["node"],
                        n["site"],
                        "fixed",
                        sc.with_overrides(arrivals_per_hour=rate),
                        day.timestamp() + h * 3600,
                        float(sample_s),
                        seed + 1000 * i + j,
                    )
                )
        elif n.get("kind") == "visit":
            minutes = 6 if quick else int(n.get("minutes", 20))
            segments.append(
                Segment(
                    n["node"],
                    n["site"],
                    "visit",
                    sc,
                    _at(day, n["at"]),
                    60.0 * minutes,
                    seed + 1000 * i,
                    headcount=True,
                )
            )
        else:
            raise DemoError(f"{where}: kind must be fixed or visit")
    target = province.get("target")
    return Plan(
        day.strftime("%Y-%m-%d"),
        None if target is None else float(target),
        province.get("deadline"),
        list(province["sites"]),
        segments,
    )


def _as_dict(sc: Scenario) -> dict[str, Any]:
    from dataclasses import asdict

    d = asdict(sc)
    d["passersby_distance_m"] = list(sc.passersby_distance_m)
    return d


@dataclass(frozen=True, slots=True)
class SegmentDone:
    """One simulated segment: its capture file, advert count, head count and truth summary."""

    segment: Segment
    capture: Path
    adverts: int
    headcount: int | None
    summary: dict[str, Any]
