"""`bzscan` live scanning and `bzscan doctor` (loaded lazily by the `bzscan` group)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from scanner.ble.signatures import SignatureError


def run_live_cli(kw: dict[str, Any], clock: Any = None) -> None:
    """A live scan with `bzscan`'s resolved options; `clock` (scene time) only for benchmarks."""
    from scanner.node.clock import ClockGate, TrustedClock
    from scanner.node.clocknote import clock_note
    from scanner.node.doctor import clock_synced
    from scanner.node.liveview import LiveView
    from scanner.node.run_live import LiveStatus, passive_plan, run_live
    from scanner.node.run_replay import RunOptions, build_pipeline
    from scanner.node.systemd import Notifier, ServiceHeartbeat
    from scanner.sources.live.bleak_scan import LiveSource, ScanError, ScanMode

    heartbeat = ServiceHeartbeat(Notifier())  # first: it takes NOTIFY_SOCKET from the environment
    mode: ScanMode = "passive" if kw.get("mode") == "passive" else "active"
    if mode == "passive" and not sys.platform.startswith("linux"):
        raise click.UsageError(
            f"--mode passive needs Linux (BlueZ advertisement monitors); on {sys.platform} "
            "use --mode active"
        )
    opts = RunOptions.from_cli(kw)
    from scanner.node.delivery import Delivery, DeliveryConfigError, delivery_options_from_cli

    # A visit (a set duration or a head count) keeps its windows for the end-of-visit estimate.
    visit = kw.get("duration") is not None or kw.get("headcount") is not None
    view = LiveView(sys.stdout, as_json=kw["as_json"], keep_reports=visit)
    synced = clock_synced()
    view.clock_synced = synced
    note = clock_note(synced)
    if note is not None:
        # Said before the first window, not discovered at the end of the visit.
        click.echo(f"bzscan: {note}", err=True)
    # A live visit always keeps an outbox (unless --dry-run): with no broker the inspector carries
    # it back for `bzagg ingest`; with one, windows wait there until the broker acknowledges.
    try:
        dopts = None if kw["dry_run"] else delivery_options_from_cli(kw, replay=False)
        delivery = Delivery(dopts) if dopts is not None else None
    except DeliveryConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    # Windows are stamped only with time the node trusts; see scanner/node/clock.py. A benchmark's
    # scene clock is trusted as it is (it never steps).
    trusted = (
        TrustedClock(synced=clock_synced)
        if clock is None
        else TrustedClock(wall=clock.now, mono=clock.now, synced=lambda: True)
    )
    sinks = [view.window, *([delivery.sink] if delivery else [])]

    def fan_out(report: Any) -> None:
        for sink in sinks:
            sink(report)

    gate = ClockGate(trusted, fan_out)
    try:
        pipeline = build_pipeline(
            opts,
            [gate],
            mode=mode,
            adapter=kw.get("adapter"),
            clock_synced=synced,
            next_seq=delivery.next_seq if delivery else None,
            outbox_dropped=delivery.dropped if delivery else None,
        )
    except SignatureError as exc:
        # A bad signature file is bad configuration: exit 2 like any other bad option.
        raise click.BadParameter(str(exc), param_hint="--signatures") from exc
    patterns: tuple[tuple[int, int, bytes], ...] = ()
    if mode == "passive":
        plan = passive_plan(pipeline.classifier)
        patterns = plan.patterns
        click.echo(plan.describe(), err=True)
    source = LiveSource(
        mode=mode, adapter=kw.get("adapter"), or_patterns=patterns, clock=clock or trusted
    )
    recorder = _recorder(kw.get("record"))

    clock_watch = _ClockWatch(view, clock_synced)

    def on_status(status: LiveStatus) -> None:
        view.on_status(status)
        clock_watch(status)
        heartbeat(status)

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with contextlib.AsyncExitStack() as stack:
            if recorder is not None:
                stack.enter_context(recorder)
            if delivery is not None:
                await stack.enter_async_context(delivery)
            stack.enter_context(view)
            try:
                await run_live(
                    pipeline,
                    source,
                    clock=source.clock,
                    duration_s=kw.get("duration"),
                    watchdog_s=kw.get("watchdog") or 0.0,
                    on_status=on_status,
                    stop=stop,
                    record=recorder.write if recorder is not None else None,
                )
            finally:
                gate.close()

    try:
        asyncio.run(go())
    except ScanError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        heartbeat.stopping()
    lines = view.summary_lines(
        kw.get("headcount"), site_type=kw.get("site_type"), smartphones=kw.get("smartphones")
    )
    for line in lines:
        click.echo(line, err=kw["as_json"] or not view.interactive)
    if delivery is not None and (delivery.unsent or delivery.unconfirmed):
        click.echo(f"bzscan: {delivery.unsent_message()}", err=True)
    if recorder is not None:
        click.echo(f"bzscan: recorded {recorder.adverts} adverts to {recorder.path}", err=True)
        if recorder.left_out or recorder.skipped:
            click.echo(
                f"bzscan: not recorded: {recorder.left_out} AD structures beyond 229 bytes, "
                f"{recorder.skipped} adverts without a Bluetooth address",
                err=True,
            )


def _recorder(path: Any) -> Any:
    """The --record file, created now (0600) with a warning that it holds identifiers."""
    if path is None:
        return None
    from scanner.sources.replay.record import Recorder, RecordError

    try:
        recorder = Recorder(path)
    except RecordError as exc:
        raise click.BadParameter(str(exc), param_hint="--record") from exc
    click.echo(
        f"bzscan: WARNING: recording every advert to {recorder.path.resolve()} (mode 0600). "
        "This file holds identifiers (device addresses, Bluezone IDs): keep it safe, share it "
        "with no one, delete it when done",
        err=True,
    )
    return recorder


class _ClockWatch:
    """Re-reads the clock's sync state about once a minute and says so when it changes."""

    EVERY_S = 60.0

    def __init__(self, view: Any, probe: Callable[[], bool | None]) -> None:
        self.view, self.probe = view, probe
        self._next = time.monotonic() + self.EVERY_S

    def __call__(self, status: Any) -> None:
        from scanner.node.clocknote import clock_note

        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.EVERY_S
        synced = self.probe()
        if synced == self.view.clock_synced:
            return
        self.view.clock_synced = synced
        note = clock_note(synced)
        click.echo(f"bzscan: {note or 'clock now synchronised (NTP)'}", err=True)


@click.command("doctor")
@click.option("--broker", default=None, help="host:port of the MQTT broker to test (TCP connect).")
@click.pass_context
def doctor_cmd(ctx: click.Context, broker: str | None) -> None:
    """Check adapter, BlueZ version, passive-scan support, clock sync and broker reachability."""
    from scanner.node.doctor import format_checks, run_checks

    root = ctx.find_root().obj or {}
    broker = broker or root.get("broker")
    checks = asyncio.run(
        run_checks(
            adapter=root.get("adapter"),
            broker=broker,
            site=root.get("site"),
            node=root.get("node"),
            username=root.get("username"),
            password=root.get("password"),
        )
    )
    click.echo(format_checks(checks))
    if any(c.status == "fail" for c in checks):
        ctx.exit(1)
