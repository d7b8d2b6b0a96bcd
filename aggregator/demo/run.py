"""`bzagg demo`: a simulated province through the real scanner pipeline and the real aggregator.

Each node's captures are simulated (`scanner.simulator.capture`, pcap files in the work dir), then
replayed exactly as `bzscan --replay` does: capture reader -> classifier -> window counter ->
outbox (SQLite) -> MQTT publisher -> broker (embedded amqtt, or `--broker`) -> the `bzagg serve`
subscriber -> store. The report is then built from that store with the report helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from aggregator.demo.plan import Plan, Segment, SegmentDone, load_province, make_plan
from aggregator.demo.view import (
    DemoProgress,
    pooled_vs_truth,
    truth_by_district,
    truth_by_site,
    truth_text,
)
from scanner.wire.schema import iso_utc

log = logging.getLogger(__name__)
_YIELD_EVERY = 5_000


@dataclass(frozen=True, slots=True)
class DemoOptions:
    workdir: Path = Path("bzagg-demo")
    html: Path = Path("demo-report.html")
    broker: str | None = None
    quick: bool = False
    seed: int = 2020
    lang: str = "en"
    province: Path | None = None
    progress: bool = True
    workers: int | None = None  # simulation processes; None: 2 (0: in this process)


@dataclass(slots=True)
class DemoResult:
    db: Path
    sites_file: Path
    html: Path
    report_text: str
    truth_text: str
    windows_published: int
    windows_stored: int
    adverts: int
    elapsed_s: float
    truth: dict[str, dict[str, float | None]] = field(default_factory=dict)
    pooled_text: str = ""
    district_truth: dict[str, float | None] = field(default_factory=dict)
    late_pubacks: int = 0  # broker deliveries to the aggregator whose PUBACK came after 5 s


def simulate_segment(seg: Segment, path: Path) -> SegmentDone:
    """Simulate one segment and write its pcap (runs in a worker process)."""
    from scanner.simulator.capture import simulate, write_simulation

    result = simulate(seg.scenario, seed=seg.seed, start=seg.start, duration_s=seg.duration_s)
    n = write_simulation(result, path)
    headcount = None
    if seg.headcount:
        # The inspector counts heads on arrival; the median over the visit is what they would
        # write down after a recount.
        headcount = round(statistics.median(w["people_at_mid"] for w in result.truth.windows))
    return SegmentDone(seg, path, n, headcount, result.truth.summary)


def _executor(workers: int | None) -> Executor | None:
    n = 2 if workers is None else workers
    if n <= 0:
        return None
    # spawn: the parent runs an event loop and a broker; forking it would copy their state.
    return ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))


def _futures(plan: Plan, capdir: Path, pool: Executor | None) -> Iterator[Future[SegmentDone]]:
    for i, seg in enumerate(plan.segments):
        path = capdir / f"{i:03d}-{seg.node}.pcap"
        if pool is None:
            f: Future[SegmentDone] = Future()
            f.set_result(simulate_segment(seg, path))
            yield f
        else:
            yield pool.submit(simulate_segment, seg, path)


async def run_demo(opts: DemoOptions, echo: Any = None) -> DemoResult:
    """Run the whole demo; returns where things went and the printed texts."""
    from aggregator.ingest.embedded import EmbeddedBroker
    from aggregator.ingest.subscribe import Subscriber
    from aggregator.store import open_store
    from scanner.node.delivery import Delivery, DeliveryOptions
    from scanner.wire.broker import BrokerConfig, parse_broker_url

    t0 = time.monotonic()
    plan = make_plan(load_province(opts.province), seed=opts.seed, quick=opts.quick)
    work = opts.workdir
    capdir = work / "captures"
    capdir.mkdir(parents=True, exist_ok=True)
    db = work / "demo.sqlite3"
    for stale in [db, *work.glob("demo.sqlite3-*"), *work.glob("outbox-*.sqlite3*")]:
        stale.unlink(missing_ok=True)
    sites_file = work / "sites.yaml"
    sites_file.write_text(yaml.safe_dump({"sites": plan.sites}, allow_unicode=True), "utf-8")
    pool = _executor(0 if opts.quick and opts.workers is None else opts.workers)
    futures = list(_futures(plan, capdir, pool)) if pool is not None else None
    progress = DemoProgress(len(plan.segments), enabled=opts.progress)
    stack = contextlib.AsyncExitStack()  # broker (outermost)
    nodes = contextlib.AsyncExitStack()  # one Delivery (outbox + publisher) per node
    store = open_store(db)
    done: list[SegmentDone] = []
    published = 0
    try:
        embedded: EmbeddedBroker | None = None
        if opts.broker:
            broker = parse_broker_url(opts.broker)
        else:
            embedded = await stack.enter_async_context(EmbeddedBroker(0))
            broker = BrokerConfig(host=embedded.host, port=embedded.port)
        sub = Subscriber(store, broker, client_id=f"bzagg-demo-{os.getpid()}")
        sub_task = asyncio.create_task(sub.run(), name="demo-subscriber")
        await asyncio.wait_for(sub.connected.wait(), 10)
        deliveries: dict[str, Delivery] = {}
        for seg in plan.segments:
            if seg.node not in deliveries:
                d = Delivery(
                    DeliveryOptions(
                        node=seg.node,
                        site=seg.site,
                        broker=broker,
                        outbox=work / f"outbox-{seg.node}.sqlite3",
                    )
                )
                deliveries[seg.node] = await nodes.enter_async_context(d)
        source = futures if futures is not None else _futures(plan, capdir, None)
        for fut in source:
            sd = await asyncio.wrap_future(fut) if pool is not None else fut.result()
            progress.simulated()
            published += await _replay(sd, deliveries[sd.segment.node])
            done.append(sd)
            progress.replayed(sd.adverts)
            progress.stored(sub.stats.stored, published)
        await nodes.aclose()  # drains every outbox to the broker (QoS 1, acknowledged)
        deadline = time.monotonic() + 60
        while sub.stats.stored + sub.stats.duplicates < published and time.monotonic() < deadline:
            progress.stored(sub.stats.stored, published)
            await asyncio.sleep(0.05)
        progress.stored(sub.stats.stored, published)
        sub_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub_task
        stored = sub.stats.stored
    finally:
        progress.close()
        await nodes.aclose()
        await stack.aclose()
        store.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    report_text, html, district_data = _report(db, sites_file, plan, opts)
    truth = truth_by_site(done)
    dtruth = truth_by_district(done, plan)
    segments = [
        {"node": d.segment.node, "site": d.segment.site, "kind": d.segment.kind,
         "start": iso_utc(int(d.segment.start)), "duration_s": d.segment.duration_s,
         "seed": d.segment.seed, "headcount": d.headcount, "adverts": d.adverts,
         "truth": d.summary}
        for d in done
    ]  # fmt: skip
    (work / "demo-truth.json").write_text(
        json.dumps({"sites": truth, "districts": dtruth, "segments": segments}, indent=1,
                   sort_keys=True), "utf-8",
    )  # fmt: skip
    return DemoResult(
        db,
        sites_file,
        html,
        report_text,
        truth_text(truth, plan),
        published,
        stored,
        sum(s.adverts for s in done),
        time.monotonic() - t0,
        truth,
        pooled_vs_truth(district_data, dtruth, opts.lang),
        dtruth,
        embedded.late_pubacks if embedded is not None else 0,
    )


async def _replay(sd: SegmentDone, delivery: Any) -> int:
    """Replay one capture as `bzscan --replay` does, into the node's outbox and publisher."""
    from scanner.node.run_replay import RunOptions, build_pipeline
    from scanner.sources.replay.reader import read_capture

    seg = sd.segment
    opts = RunOptions(
        node=seg.node,
        site=seg.site,
        window_s=60,
        rssi_min_dbm=seg.scenario.rssi_min_dbm,
        headcount=sd.headcount,
    )
    pipeline = build_pipeline(
        opts,
        [delivery.sink],
        mode="replay",
        next_seq=delivery.next_seq,
        outbox_dropped=delivery.dropped,
    )
    pipeline.start(seg.start)
    for n, a in enumerate(read_capture(sd.capture), 1):
        pipeline.feed_raw(a.t, a.address, a.rssi_dbm, a.adv, a.scan_rsp)
        if n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)  # let the publisher and the subscriber work meanwhile
    # End just inside the last minute so it closes fully covered, not as an empty extra window.
    return pipeline.finish(seg.start + seg.duration_s - 0.001).windows


def _report(db: Path, sites_file: Path, plan: Plan, opts: DemoOptions) -> tuple[str, Path, Any]:
    from aggregator.report.html import to_html
    from aggregator.report.summary import to_table
    from aggregator.report.tables import ReportOptions, build_report
    from aggregator.sites import load_registry
    from aggregator.store import open_store
    from scanner.estimation.params import load_params

    params = load_params(None)  # the packaged defaults, wherever the demo runs
    registry = load_registry(sites_file)
    deadline = date.fromisoformat(plan.deadline) if plan.deadline else None
    store = open_store(db)
    try:
        texts, first = [], None
        for by in (("district",), ("site",)):
            data = build_report(
                store, registry, params, ReportOptions(by=by, target=plan.target, deadline=deadline)
            )
            text = to_table(data, opts.lang)
            if by == ("district",):  # parameters and target lines once, with the site table
                text = text.split("\n\n")[0].rstrip() + "\n"
                first = data
            texts.append(text)
        opts.html.parent.mkdir(parents=True, exist_ok=True)
        opts.html.write_text(to_html(data, "vi" if opts.lang == "vi" else opts.lang), "utf-8")
    finally:
        store.close()
    return "\n".join(texts), opts.html, first
