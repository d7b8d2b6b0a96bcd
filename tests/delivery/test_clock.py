"""Clock faults on a node: stale boot clock then sync, a step back of 1 h, a step forward of a day.

Time is a parameter: the wall clock, the monotonic clock and the sync state are callables of a
scripted scene; the real pipeline counts adverts and the ClockGate stamps the windows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from scanner.node.clock import ClockGate, TrustedClock, follow_step
from scanner.node.run_replay import RunOptions, build_pipeline
from scanner.wire.schema import WindowReport
from tests.delivery.helpers import T0
from tests.factories import raw_advert

WS = 60
DAY = 86400


@dataclass
class Scene:
    """True time advances one second per step; the wall clock is truth + offset."""

    truth: float = float(T0)
    offset: float = 0.0
    synced: bool | None = True
    emitted: list[tuple[WindowReport, float, float]] = field(default_factory=list)

    def wall(self) -> float:
        return self.truth + self.offset

    def mono(self) -> float:
        return self.truth - T0


def run(scene: Scene, seconds: int, events: dict[int, tuple[float, bool | None]]) -> Scene:
    clock = TrustedClock(wall=scene.wall, mono=scene.mono, synced=lambda: scene.synced,
                         sync_poll_s=1.0)  # fmt: skip
    gate = ClockGate(clock, lambda r: scene.emitted.append((r, scene.truth, scene.wall())))
    pipeline = build_pipeline(RunOptions(node="n1", site="s1", window_s=WS), [gate], mode="active")
    pipeline.start(clock.now())
    now = 0.0
    for i in range(seconds):
        if i in events:
            scene.offset, scene.synced = events[i]
        scene.truth += 1.0
        now = clock.now()
        follow_step(pipeline, clock)
        pipeline.feed(raw_advert("iphone", t=now, address="4A:00:00:00:00:01", rssi_dbm=-60))
        pipeline.tick(now)
    pipeline.finish(now)
    return scene


def check_invariants(scene: Scene, *, truth_is_wall_after: bool = False) -> list[WindowReport]:
    reports = [r for r, _, _ in scene.emitted]
    starts = [r.window_start for r in reports]
    assert len(starts) == len(set(starts)), "two windows with the same key"
    for a, b in itertools.pairwise(reports):
        assert b.window_start >= a.window_end, "overlapping windows"
    for r, truth, wall in scene.emitted:
        now = wall if truth_is_wall_after else truth
        assert r.window_start <= now, f"window {r.window_start} in the future of {now}"
    return reports


def test_stale_boot_clock_then_sync_holds_and_restamps() -> None:
    # fake-hwclock: the Pi boots 30 days in the past, NTP synchronises after 10 minutes.
    scene = Scene(offset=-30 * DAY, synced=False)
    run(scene, 20 * 60, {600: (0.0, True)})
    reports = check_invariants(scene)
    held = [r for r in reports if r.health.clock_synced is False]
    fresh = [r for r in reports if r.health.clock_synced is True]
    assert len(held) >= 9 and len(fresh) >= 9
    # Re-stamped near the truth (within two windows), never 30 days back, and marked.
    assert min(r.window_start for r in held) >= T0 - 2 * WS
    assert all(r.window_start < min(f.window_start for f in fresh) for r in held)
    # Every advert second is in some window: nothing lost to the step.
    assert sum(r.health.adverts for r in reports) == 20 * 60


@pytest.mark.parametrize("synced", [None, True])
def test_step_back_one_hour(synced: bool | None) -> None:
    scene = Scene(synced=synced)
    # 90 minutes: long enough for a corrected wall clock to catch up with the time already used.
    run(scene, 90 * 60, {600: (-3600.0, synced)})
    # Synchronised: the new wall time is right, so "the future" is judged against it.
    reports = check_invariants(scene, truth_is_wall_after=bool(synced))
    marked = [r for r in reports if r.health.clock_synced is False]
    if synced:
        # Only the window(s) open while the node stood still are marked; on time again after.
        assert 1 <= len(marked) <= 2 and reports[-1].health.clock_synced is True
    else:
        # The wall clock never came back: everything after the step is monotonic, marked.
        assert {r.window_start for r in marked} >= {
            r.window_start for r in reports if r.window_start >= T0 + 660
        }
    assert sum(r.health.adverts for r in reports) == 90 * 60
    if synced:
        # The node stood still for the hour: one window (marked) took what was heard meanwhile.
        assert max(r.health.adverts for r in reports) >= 3600


@pytest.mark.parametrize("synced", [None, True])
def test_step_forward_one_day(synced: bool | None) -> None:
    scene = Scene(synced=synced)
    run(scene, 20 * 60, {600: (float(DAY), synced)})
    reports = check_invariants(scene, truth_is_wall_after=bool(synced))
    # Followed only when synchronised, and then without an empty window per minute jumped over.
    assert len(reports) <= 20 + 2
    jumped = [r for r in reports if r.window_start >= T0 + DAY]
    assert bool(jumped) is bool(synced)
    if not synced:
        assert all(r.health.clock_synced is False for r in reports if r.window_start > T0 + 660)
    assert sum(r.health.adverts for r in reports) == 20 * 60


def test_never_synchronised_holds_a_bounded_number_then_sends_them_marked() -> None:
    scene = Scene(synced=False)
    clock = TrustedClock(wall=scene.wall, mono=scene.mono, synced=lambda: scene.synced)
    out: list[WindowReport] = []
    gate = ClockGate(clock, out.append, max_held=3)
    pipeline = build_pipeline(RunOptions(node="n1", site="s1", window_s=WS), [gate], mode="active")
    pipeline.start(clock.now())
    for _ in range(10 * WS):
        scene.truth += 1.0
        pipeline.tick(clock.now())
    assert len(out) == 10 - 3  # only three held at a time
    pipeline.finish(clock.now())
    gate.close()
    assert len(out) == 11 and all(r.health.clock_synced is False for r in out)
