"""Run a scripted scene through fake BlueZ -> D-Bus -> unmodified bleak -> LiveSource -> Pipeline.

Time is virtual: the live source stamps adverts with a `FakeClock` the driver advances, so a
ten-minute scene takes about a second. The driver waits after each injected instant until every
report the fake sent has reached the source, so the stamps are exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.node.run_live import passive_plan, run_live
from scanner.sources.live.bleak_scan import LiveSource
from scanner.wire.schema import WindowReport
from tests.fakebluez.fixtures import FakeClock, wait_until
from tests.fakebluez.service import FakeBlueZ
from tests.live.scene import Tx, by_time


def make_classifier() -> Any:
    from scanner.ble.classify import Classifier
    from scanner.ble.signatures import load_signatures

    return Classifier(load_signatures(None))


def make_pipeline(
    classifier: Any,
    reports: list[WindowReport],
    *,
    mode: str,
    window_s: int = 60,
    rssi_min_dbm: int = -80,
    adapter: str = "hci0",
) -> Pipeline:
    return Pipeline(
        classifier,
        identity=NodeIdentity(
            node="node-1", site="site-1", mode=mode, adapter=adapter, clock_synced=True
        ),
        sink=reports.append,
        window_s=window_s,
        rssi_min_dbm=rssi_min_dbm,
    )


@dataclass
class SceneRun:
    reports: list[WindowReport]
    source: LiveSource
    restarts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


async def run_scene(
    fake: FakeBlueZ,
    txs: Sequence[Tx],
    *,
    mode: str,
    t_start: float,
    t_end: float,
    classifier: Any = None,
    window_s: int = 60,
    rssi_min_dbm: int = -80,
    watchdog_s: float = 0.0,
    forget: bool = True,
    adapter: str | None = None,
    record: Any = None,
) -> SceneRun:
    classifier = classifier if classifier is not None else make_classifier()
    reports: list[WindowReport] = []
    pipeline = make_pipeline(
        classifier,
        reports,
        mode=mode,
        window_s=window_s,
        rssi_min_dbm=rssi_min_dbm,
        adapter=adapter or "hci0",
    )
    clock = FakeClock(t_start)
    patterns = passive_plan(classifier).patterns if mode == "passive" else ()
    source = LiveSource(mode=mode, adapter=adapter, or_patterns=patterns, clock=clock)  # type: ignore[arg-type]
    if not forget:
        source.forget = _no_forget  # type: ignore[method-assign]
    task = asyncio.get_running_loop().create_task(
        run_live(
            pipeline,
            source,
            clock=clock,
            duration_s=t_end - t_start,
            watchdog_s=watchdog_s,
            record=record,
        )
    )
    await wait_until(lambda: source._scanner is not None or task.done(), what="scanner start")
    if task.done():
        await task
    if mode == "passive":
        await wait_until(lambda: _monitor_active(fake), what="monitor activation")
    for t, group in by_time(list(txs)):
        await clock.advance_to(t, settle=task.done)
        for tx in group:
            fake.advertise(tx.address, tx.rssi, tx.adv, tx.scan_rsp, adapter=adapter or "hci0")
        await wait_until(
            lambda: source.stats.received >= fake.reports or task.done(),
            what="reports to reach the source",
        )
    await clock.advance_to(t_end, settle=task.done)
    summary = await asyncio.wait_for(task, 10)
    return SceneRun(reports=reports, source=source, restarts=summary.restarts)


async def _no_forget() -> int:
    return 0


def _monitor_active(fake: FakeBlueZ) -> bool:
    return any(m.active for a in fake.adapters.values() for m in a.monitors.values())


def counts(r: WindowReport) -> dict[str, dict[str, int]]:
    return {c: dict(v) for c, v in r.counts.items()}
