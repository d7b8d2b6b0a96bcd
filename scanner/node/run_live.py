"""Drive the pipeline from a live scan: window-boundary forgetting, ticks, watchdog, duration."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from scanner.counting.pipeline import Pipeline, RunSummary
from scanner.node.clock import follow_step
from scanner.sources.live.bleak_scan import Clock, LiveSource, OrPatternTuple, ScanError

if TYPE_CHECKING:
    from scanner.ble.classify import Classifier

log = logging.getLogger(__name__)

TICK_SECONDS: Final = 1.0
DEFAULT_WATCHDOG_SECONDS: Final = 60.0

# What the denominator needs even if no signature names it (docs/protocol.md §4): Apple Continuity
# (iPhones, and the iOS overflow area of background Bluezone), GAEN 0xFD6F service data and UUID,
# Google Fast Pair 0xFE2C, Samsung 0x0075, Microsoft 0x0006. Or-patterns: (start, AD type, content)
# with content compared at `start` inside the AD value (BlueZ src/shared/ad.c).
DENOMINATOR_PATTERNS: Final[tuple[OrPatternTuple, ...]] = (
    (0, 0xFF, b"\x4c\x00"),
    (0, 0x16, b"\x6f\xfd"),
    (0, 0x03, b"\x6f\xfd"),
    (0, 0x16, b"\x2c\xfe"),
    (0, 0xFF, b"\x75\x00"),
    (0, 0xFF, b"\x06\x00"),
)
# Bluezone itself (docs/protocol.md §2.1-2.2, §0): company 0x22B5 and 16-bit UUID 0x4E56. Used when
# the
# classifier cannot produce patterns of its own.
BLUEZONE_PATTERNS: Final[tuple[OrPatternTuple, ...]] = (
    (0, 0xFF, b"\xb5\x22"),
    (0, 0x03, b"\x56\x4e"),
    (0, 0x02, b"\x56\x4e"),
)


@dataclass(frozen=True, slots=True)
class PassivePlan:
    """The or-patterns a passive scan registers, and the signatures it cannot see."""

    patterns: tuple[OrPatternTuple, ...]
    unseen: tuple[str, ...]

    def describe(self) -> str:
        if not self.unseen:
            return f"passive mode: {len(self.patterns)} patterns; every signature is visible"
        return (
            f"passive mode: {len(self.patterns)} patterns; cannot see {', '.join(self.unseen)} "
            "(names and scan-response data need --mode active)"
        )


def passive_plan(classifier: Classifier | None) -> PassivePlan:
    """Patterns from the classifier's signatures plus what the denominator needs, de-duplicated."""
    patterns: list[OrPatternTuple] = []
    unseen: list[str] = []
    got = getattr(classifier, "passive_patterns", None) if classifier is not None else None
    if callable(got):
        result: Any = got()
        pats, names = _split_plan(result)
        patterns.extend(pats)
        unseen.extend(names)
    else:
        patterns.extend(BLUEZONE_PATTERNS)
    patterns.extend(DENOMINATOR_PATTERNS)
    seen: set[OrPatternTuple] = set()
    unique = [p for p in patterns if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
    return PassivePlan(tuple(unique), tuple(dict.fromkeys(unseen)))


def _split_plan(result: Any) -> tuple[list[OrPatternTuple], list[str]]:
    # Accept (patterns, unseen_names) or an object with .patterns / .unseen (or .unsupported).
    if isinstance(result, tuple) and len(result) == 2 and not _is_pattern(result):
        pats, names = result
    else:
        pats = getattr(result, "patterns", result)
        names = getattr(result, "unseen", getattr(result, "unsupported", ()))
    out = []
    for p in pats:
        start, ad_type, content = (
            getattr(p, a, None) for a in ("start_position", "ad_data_type", "content_of_pattern")
        )
        if content is None:
            start, ad_type, content = p
        out.append((int(start), int(ad_type), bytes(content)))  # type: ignore[arg-type]
    return out, [str(n) for n in names]


def _is_pattern(x: Any) -> bool:
    return len(x) == 3 and isinstance(x[2], bytes | bytearray)


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
) -> RunSummary:
    """Scan until `duration_s` (virtual or real, per `clock`) or `stop`; returns the run summary.

    Raises ScanError when scanning cannot start. Windows close on time even when nothing is heard.
    """
    await source.start()
    if source.adapter and pipeline.identity.adapter != source.adapter:
        # The adapter bleak really uses (the default one when none was named) goes into health.
        pipeline.identity = dataclasses.replace(pipeline.identity, adapter=source.adapter)
    t0 = clock.now()
    status = LiveStatus(t0, duration_s, source.mode, source.adapter)
    pipeline.start(t0)
    feeder = asyncio.get_running_loop().create_task(_feed(pipeline, source, status))
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
                pipeline.feed(advert)
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
            pipeline.feed(advert)
        # A run that ends exactly on a window boundary must not report an empty trailing window.
        t_end = now - 1e-6 if now % window_s == 0 else now
        if scanning:
            pipeline.stop(t_end)
        await source.stop()
    return pipeline.finish(t_end)


async def _feed(pipeline: Pipeline, source: LiveSource, status: LiveStatus) -> None:
    async for advert in source:
        pipeline.feed(advert)
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
