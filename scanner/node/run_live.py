"""Drive the pipeline from a live scan: window-boundary forgetting, ticks, watchdog, duration."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from scanner.ble.passive import DENOMINATOR_PATTERNS, PassivePlan
from scanner.counting.pipeline import Pipeline, RunSummary
from scanner.node.clock import follow_step
from scanner.sources.live.bleak_scan import Clock, LiveSource, ScanError

if TYPE_CHECKING:
    from scanner.ble.advert import Advert
    from scanner.ble.classify import Classifier

log = logging.getLogger(__name__)

TICK_SECONDS: Final = 1.0
DEFAULT_WATCHDOG_SECONDS: Final = 60.0


def passive_plan(classifier: Classifier) -> PassivePlan:
    """The classifier's or-patterns plus what the denominator needs."""
    return classifier.passive_patterns().plus(DENOMINATOR_PATTERNS)


class LiveStatus:
    """What a live view reads each tick (numbers only)."""

    def __init__(self, t0: float, duration_s: float | None, mode: str, adapter: str | None) -> None:
        self.t0, self.now, self.duration_s = t0, t0, duration_s
        self.mode, self.adapter = mode, adapter
        self.adverts = 0
        self.restarts = 0
        self.scanning = True
        # Distinct devices so far in the open window, per category and stratum (numbers only).
        self.open_counts: dict[str, dict[str, int]] = {}


StatusHook = Callable[[LiveStatus], None]


async def run_live(
    pipeline: Pipeline,
    source: LiveSource,
    *,
    clock: Clock,
    duration_s: float | None = None,
    watchdog_s: float = DEFAULT_WATCHDOG_SECONDS,
    on_status: StatusHook | None = None,
    stop: asyncio.Event | None = None,
    record: Callable[[Advert], None] | None = None,
) -> RunSummary:
    """Scan until `duration_s` (virtual or real, per `clock`) or `stop`; returns the run summary.

    Raises ScanError when scanning cannot start. Windows close on time even when nothing is heard.
    `record`, when given, sees every advert just before the pipeline does (`bzscan --record`).
    """
    feed = pipeline.feed if record is None else _tee(record, pipeline.feed)

    await source.start()
    if source.adapter and pipeline.identity.adapter != source.adapter:
        # The adapter bleak really uses (the default one when none was named) goes into health.
        pipeline.identity = dataclasses.replace(pipeline.identity, adapter=source.adapter)
    t0 = clock.now()
    status = LiveStatus(t0, duration_s, source.mode, source.adapter)
    pipeline.start(t0)
    feeder = asyncio.get_running_loop().create_task(_feed(feed, source, status))
    window_s = pipeline.counter.window_s
    window = int(t0 // window_s)
    last_heard = t0
    scanning = True
    now = t0
    try:
        while stop is None or not stop.is_set():
            now = clock.now()
            end = None if duration_s is None else t0 + duration_s
            if end is not None and now >= end:
                break
            nxt = min(now + TICK_SECONDS, (int(now // window_s) + 1) * window_s)
            if end is not None:
                nxt = min(nxt, end)
            await clock.sleep(nxt - now)
            now = clock.now()
            follow_step(pipeline, clock)
            for advert in source.drain():
                feed(advert)
                status.adverts += 1
            if end is not None and now >= end:
                break
            if int(now // window_s) != window:
                window = int(now // window_s)
                # New window: make BlueZ forget merged data so each device re-reports fresh.
                await source.forget()
            pipeline.tick(now)
            if source.last_advert_t is not None:
                last_heard = max(last_heard, source.last_advert_t)
            if watchdog_s > 0 and now - last_heard >= watchdog_s:
                scanning = await _restart(pipeline, source, clock, scanning)
                last_heard = clock.now()
                status.restarts += 1
            status.now, status.scanning = now, scanning
            status.open_counts = pipeline.counter.peek()
            if on_status is not None:
                on_status(status)
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        now = max(now, clock.now())
        for advert in source.drain():
            feed(advert)
        # A run that ends exactly on a window boundary must not report an empty trailing window.
        t_end = now - 1e-6 if now % window_s == 0 else now
        if scanning:
            pipeline.stop(t_end)
        await source.stop()
    return pipeline.finish(t_end)


def _tee(
    first: Callable[[Advert], None], then: Callable[[Advert], None]
) -> Callable[[Advert], None]:
    def both(advert: Advert) -> None:
        first(advert)
        then(advert)

    return both


async def _feed(feed: Callable[[Advert], None], source: LiveSource, status: LiveStatus) -> None:
    async for advert in source:
        feed(advert)
        status.adverts += 1


async def _restart(pipeline: Pipeline, source: LiveSource, clock: Clock, scanning: bool) -> bool:
    """Watchdog: nothing heard for too long, so stop and start the scanner; False if it failed."""
    log.warning("no adverts for a while: restarting the scanner")
    if scanning:
        pipeline.stop(clock.now())
    pipeline.note_restart()
    try:
        await source.restart()
    except ScanError as exc:
        # Keep running: the window reports show scanned_s=0 and the restarts, which is the truth.
        log.error("scanner restart failed: %s", exc)
        return False
    pipeline.start(clock.now())
    return True
