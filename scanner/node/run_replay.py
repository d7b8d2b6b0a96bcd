"""Wiring for `bzscan`: build the pipeline and drive it from a replay file."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from scanner.ble.classify import Classifier
from scanner.ble.signatures import load_signatures
from scanner.counting.pipeline import NodeIdentity, Pipeline, RunSummary, Sink
from scanner.node.output import WindowPrinter
from scanner.wire.schema import WindowReport

log = logging.getLogger(__name__)

# Show a progress bar only for replays that take longer than this.
_PROGRESS_AFTER_S = 1.0


@dataclass(slots=True)
class RunOptions:
    """Everything `bzscan` was told, after config/env/CLI precedence (click resolves it)."""

    node: str
    site: str
    window_s: int = 60
    rssi_min_dbm: int = -127
    signatures: Path | None = None
    headcount: int | None = None
    as_json: bool = False
    dry_run: bool = False
    replay: Path | None = None
    realtime: bool = False
    progress: bool | None = None  # None: only when stderr is a terminal
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_cli(cls, kw: dict[str, Any]) -> RunOptions:
        """From `bzscan`'s resolved options (the group's parameters)."""
        return cls(
            node=kw["node"], site=kw["site"], window_s=kw["window_s"],
            rssi_min_dbm=kw["rssi_min_dbm"], signatures=kw["signatures"],
            headcount=kw["headcount"], as_json=kw["as_json"], dry_run=kw["dry_run"],
            replay=kw.get("replay"), realtime=kw.get("realtime", False),
            progress=kw.get("progress"),
        )  # fmt: skip


@dataclass(slots=True)
class ReplayResult:
    summary: RunSummary
    stats: Any
    elapsed_s: float
    gate: int = -127  # the RSSI gate the replay ran with (dBm; -127: off)


def build_pipeline(
    opts: RunOptions,
    sinks: list[Sink],
    *,
    mode: str,
    adapter: str | None = None,
    clock_synced: bool | None = None,
    next_seq: Callable[[], int] | None = None,
    outbox_dropped: Callable[[], int] | None = None,
    keep_reports: bool = False,
) -> Pipeline:
    classifier = Classifier(load_signatures(opts.signatures))

    def fan_out(report: WindowReport) -> None:
        for sink in sinks:
            sink(report)

    return Pipeline(
        classifier,
        identity=NodeIdentity(
            node=opts.node, site=opts.site, mode=mode, adapter=adapter, clock_synced=clock_synced
        ),
        sink=fan_out,
        window_s=opts.window_s,
        rssi_min_dbm=opts.rssi_min_dbm,
        headcount=opts.headcount,
        next_seq=next_seq,
        outbox_dropped=outbox_dropped,
        keep_reports=keep_reports,
    )


async def replay_file(pipeline: Pipeline, path: Path, opts: RunOptions) -> ReplayResult:
    """Feed a capture through the pipeline, as fast as possible or paced like the original."""
    from scanner.sources.replay.reader import ReplayStats, iter_batches

    stats = ReplayStats()
    started = time.monotonic()
    progress = _Progress(path, enabled=opts.progress)
    first_t: float | None = None
    wall0 = 0.0
    n = 0
    feed = pipeline.feed_raw
    note_crc = pipeline.note_crc_failed
    told_rssi = False
    try:
        # Rows come in batches of plain tuples (t, address, rssi, adv, scan_rsp, pdu): no
        # RawAdvert per advert, and one event-loop yield per batch. CRC failures come with each
        # batch, at the row they preceded, so each lands in its own window's health.
        for rows in iter_batches(path, stats=stats):
            if not told_rssi and rows:
                told_rssi = True
                if any(r[2] is None for r in rows):
                    _notice(msg_no_rssi(opts.rssi_min_dbm))
            drops = rows.drops
            if opts.realtime:
                j = 0
                for i, (t, address, rssi, adv, rsp, _pdu) in enumerate(rows):
                    while j < len(drops) and drops[j][0] <= i:
                        note_crc(drops[j][1])
                        j += 1
                    if first_t is None:
                        first_t, wall0 = t, time.monotonic()
                    delay = (t - first_t) - (time.monotonic() - wall0)
                    if delay > 0:
                        # Close windows on time even when the capture is silent.
                        await asyncio.sleep(delay)
                    feed(t, address, rssi, adv, rsp)
                for _i, t_drop in drops[j:]:
                    note_crc(t_drop)
            elif drops:
                _feed_with_drops(rows, drops, feed, note_crc)
            else:
                for t, address, rssi, adv, rsp, _pdu in rows:
                    feed(t, address, rssi, adv, rsp)
            n += len(rows)
            progress.update(n, stats)
            await asyncio.sleep(0)
    finally:
        progress.close()
    if stats.skipped_corrupt:
        pipeline.note_malformed(stats.skipped_corrupt)
    summary = pipeline.finish(pipeline.summary.last_t)
    return ReplayResult(
        summary=summary, stats=stats, elapsed_s=time.monotonic() - started, gate=opts.rssi_min_dbm
    )


def _feed_with_drops(
    rows: list[Any],
    drops: list[tuple[int, float]],
    feed: Callable[..., None],
    note_crc: Callable[[float], None],
) -> None:
    j = 0
    for i, (t, address, rssi, adv, rsp, _pdu) in enumerate(rows):
        while j < len(drops) and drops[j][0] <= i:
            note_crc(drops[j][1])
            j += 1
        feed(t, address, rssi, adv, rsp)
    for _i, t_drop in drops[j:]:
        note_crc(t_drop)


def _gate_clause(rssi_min_dbm: int) -> str:
    if rssi_min_dbm > -127:
        return f"--rssi-min {rssi_min_dbm} drops every advert without RSSI"
    return "every advert heard is counted, near or far"


def msg_no_rssi(rssi_min_dbm: int) -> str:
    return (
        "this capture carries no RSSI (its sniffer did not measure it), so the on-site RSSI gate "
        f"cannot apply: {_gate_clause(rssi_min_dbm)}; its windows are marked rssi_available=false"
    )


MSG_NO_CRC = (
    "this capture's frames carry no CRC (the sniffer stripped it): their integrity cannot be "
    "checked, and a bit error in an address would count as another device"
)


def _notice(text: str) -> None:
    print(f"bzscan: {text}", file=sys.stderr)


def summary_text(result: ReplayResult) -> str:
    """The end-of-replay summary line (numbers only)."""
    s, st = result.summary, result.stats
    rate = s.adverts / result.elapsed_s if result.elapsed_s > 0 else 0.0
    parts = [
        f"replayed {s.adverts} adverts into {s.windows} windows in {result.elapsed_s:.2f} s "
        f"({rate:,.0f} adverts/s)",
        f"format {getattr(st, 'format', '?')}",
        f"below RSSI gate {s.below_gate}",
    ]
    for name in ("skipped_corrupt", "crc_failed", "non_advert", "scan_responses_merged"):
        value = getattr(st, name, None)
        if value:
            label = "dropped for a bad CRC" if name == "crc_failed" else name.replace("_", " ")
            parts.append(f"{label} {value}")
    if getattr(st, "crc_verified", 0):
        parts.append(f"CRC-24 verified here {st.crc_verified}")
    if getattr(st, "truncated", False):
        parts.append("file truncated")
    return "; ".join(parts)


def summary_caveats(result: ReplayResult) -> list[str]:
    """One line per thing the replay could not do: apply the RSSI gate, check CRCs."""
    s, st = result.summary, result.stats
    lines = []
    missing = getattr(st, "rssi_missing", 0)
    if missing:
        lines.append(
            f"no RSSI in {missing} of {s.adverts} adverts: the on-site RSSI gate could not apply "
            f"({_gate_clause(result.gate)}); windows marked rssi_available=false"
        )
    if getattr(st, "crc_absent", 0):
        lines.append(f"{st.crc_absent} frames without CRC: {MSG_NO_CRC}")
    return lines


def default_sinks(opts: RunOptions, out: TextIO | None = None) -> list[Sink]:
    # Resolve stdout at call time: CliRunner and tests swap sys.stdout after import.
    return [WindowPrinter(out or sys.stdout, as_json=opts.as_json)]


class _Progress:
    """A transient rich progress bar on stderr, shown only once a replay has taken > 1 s."""

    def __init__(self, path: Path, *, enabled: bool | None) -> None:
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._t0 = time.monotonic()
        self._total = path.stat().st_size if path.exists() else 0
        self._bar: Any = None
        self._task: Any = None

    def update(self, adverts: int, stats: Any) -> None:
        if not self._enabled or time.monotonic() - self._t0 < _PROGRESS_AFTER_S:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("replay"),
                BarColumn(),
                TextColumn("{task.fields[adverts]:,} adverts"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("replay", total=self._total or None, adverts=0)
        done = getattr(stats, "bytes_read", None)
        self._bar.update(self._task, completed=done if done is not None else 0, adverts=adverts)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
