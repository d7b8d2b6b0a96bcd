"""The time a node stamps windows with: trusted wall time, monotonic in between
(docs/architecture.md §7).

A Raspberry Pi boots without a real-time clock (fake-hwclock restores the time of the last
shutdown) and NTP steps the clock later; people set clocks by hand. Windows must never share a
key, overlap or lie in the future because of that, so:

* time never goes backwards: after an unsynchronised backward step the node keeps counting on the
  monotonic continuation of the time it had, and marks those windows `clock_synced = false`
  until the wall clock is back within tolerance; after a synchronised one (NTP corrected a clock
  that ran ahead) it stands still until the wall clock catches up, the open window taking what
  is heard meanwhile (marked);
* a forward step is followed only when the clock is synchronised (NTP fixed a stale boot clock);
  an unsynchronised forward jump is ignored the same way, and marked;
* windows closed before the clock was ever trusted are held (bounded) and re-stamped, by the
  offset the synchronisation revealed, when it arrives, still marked as placed after the fact.

Wall clock, monotonic clock and the sync state are parameters, so tests need no patching.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from scanner.wire.schema import WindowReport

log = logging.getLogger(__name__)

STEP_TOLERANCE_SECONDS: Final = 2.0
SYNC_POLL_SECONDS: Final = 30.0


class TrustedClock:
    """`now()` for the live scan (the `Clock` protocol of sources.live), step-safe."""

    def __init__(
        self,
        *,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        synced: Callable[[], bool | None] = lambda: None,
        tolerance_s: float = STEP_TOLERANCE_SECONDS,
        sync_poll_s: float = SYNC_POLL_SECONDS,
    ) -> None:
        self._wall, self._mono, self._synced_fn = wall, mono, synced
        self._tol = tolerance_s
        self._poll = sync_poll_s
        self._m = mono()
        self._t = wall()
        self._polled_at = self._m
        self._synced = synced()
        # None (unknown: no timedatectl, not Linux) is trusted; only a definite "not
        # synchronised" holds windows back.
        self.trusted = self._synced is not False
        self.ever_trusted = self.trusted
        self.stale_before: float | None = None  # windows starting before this need re-stamping
        self.stale_offset = 0.0
        self.steps = 0
        self._step: tuple[float, float] | None = None
        self._frozen = False
        self.untrusted_at: float | None = None  # the latest time handed out while not trusted

    def _poll_sync(self, m: float) -> bool | None:
        if m - self._polled_at >= self._poll:
            self._polled_at = m
            self._synced = self._synced_fn()
        return self._synced

    def now(self) -> float:
        m, w = self._mono(), self._wall()
        synced = self._poll_sync(m)
        naive = self._t + (m - self._m)
        if self._frozen:
            # Waiting for a corrected wall clock to catch up with the time already used.
            t, ok = (w, True) if w >= self._t else (self._t, False)
            self._frozen = w < self._t
        elif abs(w - naive) <= self._tol:
            t, ok = max(w, self._t), True
        elif w > naive and synced:
            t, ok = w, True
            self._note_step(naive, w, followed=True)
            if not self.ever_trusted:
                self.stale_before, self.stale_offset = naive, w - naive
            self._step = (naive, w)
        elif synced:
            # Synchronised and stepped back: the new time is right, but the windows already
            # sent cover up to self._t. Stand still until the wall clock gets there: the open
            # window takes what is heard meanwhile (marked), nothing is ever re-used or ahead.
            t, ok, self._frozen = self._t, False, True
            self._note_step(naive, w, followed=False)
        else:
            t, ok = naive, False
            self._note_step(naive, w, followed=False)
        self._m, self._t = m, t
        self.trusted = ok and synced is not False
        self.ever_trusted = self.ever_trusted or self.trusted
        if not self.trusted:
            self.untrusted_at = t
        return t

    def sync_state(self) -> bool | None:
        return self._synced

    def pop_step(self) -> tuple[float, float] | None:
        """(time before, time after) of a step followed since the last call, for the runner."""
        step, self._step = self._step, None
        return step

    def _note_step(self, naive: float, w: float, *, followed: bool) -> None:
        self.steps += 1
        if followed:
            log.warning("clock: stepped %+.0f s and synchronised: following it", w - naive)
        elif self.trusted or self.steps == 1:
            log.warning(
                "clock: wall clock %+.0f s off the monotonic clock and not trusted: counting on "
                "monotonic time, windows marked clock_synced=false", w - naive,
            )  # fmt: skip

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ClockGate:
    """Between the pipeline and the outbox: marks, holds and re-stamps windows per the clock."""

    def __init__(
        self,
        clock: TrustedClock,
        sink: Callable[[WindowReport], None],
        *,
        max_held: int = 30,
    ) -> None:
        self._clock = clock
        self._sink = sink
        self._held: deque[WindowReport] = deque()
        self._max_held = max(1, max_held)
        self.dropped = 0
        self._last_end: int | None = None

    def __call__(self, report: WindowReport) -> None:
        c = self._clock
        if not c.ever_trusted:
            if len(self._held) >= self._max_held:
                # Bounded: a node that does not synchronise soon sends its oldest held window
                # as it is, marked, for the aggregator to place or exclude.
                self._emit(_mark(self._held.popleft()))
            self._held.append(report)
            return
        self._release()
        if c.stale_before is not None and report.window_start < c.stale_before:
            report = self._restamp(report)
        elif not c.trusted or (
            c.untrusted_at is not None and c.untrusted_at >= report.window_start
        ):
            report = _mark(report)
        else:
            report = _mark(report, c.sync_state())
        self._emit(report)

    def close(self) -> None:
        """End of the run: what is still held goes out marked (re-stamped if sync came)."""
        if self._clock.ever_trusted:
            self._release()
        while self._held:
            self._emit(_mark(self._held.popleft()))

    def _release(self) -> None:
        while self._held:
            self._emit(self._restamp(self._held.popleft()))

    def _restamp(self, report: WindowReport) -> WindowReport:
        ws = report.window_s
        # Shift by whole windows, one less than the offset rounded down, so the re-stamped
        # windows end at or before the first window on the new time: no overlap, none ahead.
        shift = (int(self._clock.stale_offset // ws) - 1) * ws
        return _mark(dataclasses.replace(report, window_start=report.window_start + shift))

    def _emit(self, report: WindowReport) -> None:
        if self._last_end is not None and report.window_start < self._last_end:
            # Should not happen with a monotonic timeline; never publish an overlapping window.
            log.error("clock: window at %d overlaps the previous one; held back",
                      report.window_start)  # fmt: skip
            self.dropped += 1
            return
        self._last_end = report.window_end
        self._sink(report)


def _mark(report: WindowReport, synced: bool | None = False) -> WindowReport:
    return dataclasses.replace(
        report, health=dataclasses.replace(report.health, clock_synced=synced)
    )


def follow_step(pipeline: Any, clock: Any) -> None:
    """Close the open window at the old time and start on the new one when the clock followed a
    forward step, instead of emitting an empty window for every minute jumped over."""
    step = clock.pop_step() if isinstance(clock, TrustedClock) else None
    if step is not None:
        pipeline.finish(step[0])
        pipeline.start(step[1])
