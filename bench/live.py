"""Live-path benchmark: fake BlueZ (own process) -> D-Bus -> unmodified bleak -> LiveSource.

Then classifier -> windows. Prints adverts/s, the scanner's CPU share per 1,000 adverts/s and its
peak RSS over a scripted crowd scene (default: 1,500 devices for 10 minutes, time compressed by
--speed).

Targets: sustain 5,000 adverts/s; peak RSS under 80 MB. With `--hours H` it runs a fixed node
for H compressed hours instead (default 40 devices at 120x) and prints the resident set after
each scene hour: a node that runs for weeks must stay flat (within 10 % of the first hour).

    .venv/bin/python bench/live.py [--devices 1500] [--minutes 10] [--speed 4] [--mode active]
    .venv/bin/python bench/live.py --hours 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scanner.ble.advert import Advert  # noqa: E402
from scanner.counting.pipeline import NodeIdentity, Pipeline  # noqa: E402
from scanner.node.run_live import passive_plan, run_live  # noqa: E402
from scanner.sources.live.bleak_scan import LiveSource  # noqa: E402
from scanner.wire.schema import WindowReport  # noqa: E402
from tests.fakebluez.bus import private_system_bus  # noqa: E402
from tests.fakebluez.eir import parse  # noqa: E402
from tests.live.harness import make_classifier  # noqa: E402
from tests.live.scene import QUARTER, crowd_scene  # noqa: E402


class CompressedClock:
    """Scene time running `speed` times faster than the wall clock, from `start()`."""

    def __init__(self, t0: float, speed: float) -> None:
        self.t0, self.speed = t0, speed
        self.m0 = time.monotonic()

    def start(self) -> None:
        self.m0 = time.monotonic()

    def now(self) -> float:
        return self.t0 + (time.monotonic() - self.m0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mb() -> float:
    """The resident set now (ru_maxrss only ever grows, so it cannot show a plateau)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def baseline(n: int) -> float:
    """Adverts/s through classifier + windows alone, Advert objects as bleak would deliver them."""
    classifier = make_classifier()
    pipe = Pipeline(
        classifier,
        identity=NodeIdentity("bench", "bench", mode="simulated"),
        sink=lambda r: None,
        window_s=60,
        rssi_min_dbm=-80,
    )
    adverts = []
    for tx in crowd_scene(1500, 1):
        d = parse(tx.adv)
        parse(tx.scan_rsp, into=d)
        adverts.append(
            Advert(
                tx.t,
                tx.address,
                tx.rssi,
                d.name,
                d.manufacturer_data,
                d.service_data,
                tuple(d.uuids),
                d.tx_power,
            )
        )
        if len(adverts) >= n:
            break
    t = time.perf_counter()
    for a in adverts:
        pipe.feed(a)
    return len(adverts) / (time.perf_counter() - t)


async def control(bus: object, member: str) -> str:
    from dbus_fast import Message

    reply = await bus.call(
        Message(
            destination="org.bluez",
            path="/org/bluezaudit/fakebluez",  # type: ignore[attr-defined]
            interface="org.bluezaudit.FakeBlueZ1",
            member=member,
        )
    )
    if reply.message_type.name == "ERROR":
        raise RuntimeError(f"{member}: {reply.error_name} {reply.body}")
    return reply.body[0] if reply.body else ""


async def live(args: argparse.Namespace) -> dict[str, float]:
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    classifier = make_classifier()
    reports: list[WindowReport] = []
    windows = [0]
    if args.hours:
        # A fixed node as `bzscan` builds it: node pipeline and a live view that keeps nothing.
        from scanner.node.liveview import LiveView
        from scanner.node.run_replay import RunOptions, build_pipeline

        view = LiveView(open(os.devnull, "w"), interactive=False, keep_reports=False)  # noqa: SIM115

        def count(r: WindowReport) -> None:
            windows[0] += 1
            view.window(r)

        pipe = build_pipeline(
            RunOptions(node="bench", site="bench"), [count], mode=args.mode, adapter="hci0"
        )
        classifier = pipe.classifier
    else:
        pipe = Pipeline(
            classifier,
            identity=NodeIdentity("bench", "bench", mode=args.mode, adapter="hci0"),
            sink=reports.append,
            window_s=60,
            rssi_min_dbm=-127,
        )
    clock = CompressedClock(QUARTER, args.speed)
    patterns = passive_plan(classifier).patterns if args.mode == "passive" else ()
    source = LiveSource(mode=args.mode, or_patterns=patterns, clock=clock)
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    rss_before = rss_mb()
    stop = asyncio.Event()
    clock.start()
    task = asyncio.get_running_loop().create_task(
        run_live(pipe, source, clock=clock, duration_s=None, watchdog_s=0, stop=stop)
    )
    while source._scanner is None and not task.done():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # passive: let the monitor activate
    clock.start()
    cpu0, wall0 = cpu_s(), time.monotonic()
    await control(bus, "Play")
    state: dict[str, float] = {}
    peak_lag = 0
    hourly: list[float] = []
    next_hour = QUARTER + 3600
    while True:
        await asyncio.sleep(1.0)
        if clock.now() >= next_hour:
            hourly.append(rss_now_mb())
            next_hour += 3600
        state = json.loads(await control(bus, "PlayState"))
        peak_lag = max(peak_lag, int(state["reports"]) - source.stats.received)
        if state["done"]:
            break
    # let the last reports arrive
    for _ in range(50):
        if source.stats.received >= state["reports"]:
            break
        await asyncio.sleep(0.1)
        state = json.loads(await control(bus, "PlayState"))
    wall = time.monotonic() - wall0
    cpu = cpu_s() - cpu0
    stop.set()
    await task
    bus.disconnect()
    received = source.stats.received
    return {
        "sent": state["sent"],
        "reports": state["reports"],
        "received": received,
        "overflow": source.stats.overflow,
        "wall_s": wall,
        "cpu_s": cpu,
        "rate": received / wall,
        "fake_behind_s": state["behind_s"],
        "peak_lag": peak_lag,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_mb(),
        "windows": len(reports) or windows[0],
        "hourly_rss_mb": hourly,
        "iphones_mean": sum(r.count("iphone") for r in reports) / max(1, len(reports)),
        "bz_android_mean": sum(r.count("bluezone", "android") for r in reports)
        / max(1, len(reports)),
        "forgotten": source.stats.forgotten,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--devices", type=int, default=1500)
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--speed", type=float, default=4.0, help="scene seconds per wall second")
    p.add_argument("--mode", choices=["active", "passive"], default="active")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--hours", type=float, default=0, help="fixed-node memory run of H hours")
    args = p.parse_args()
    if args.hours:
        args.minutes = args.hours * 60
        if "--devices" not in sys.argv:
            args.devices = 40
        if "--speed" not in sys.argv:
            args.speed = 120.0
        args.skip_baseline = True
    with (
        tempfile.TemporaryDirectory(dir=ROOT / ".tmp" if (ROOT / ".tmp").is_dir() else None) as d,
        private_system_bus(Path(d)),
    ):
        fake = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakebluez",
                "--crowd",
                str(args.devices),
                "--minutes",
                str(args.minutes),
                "--speed",
                str(args.speed),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        try:
            assert fake.stdout is not None
            if fake.stdout.readline().strip() != "READY":
                raise SystemExit("fake BlueZ did not start")
            r = asyncio.run(live(args))
        finally:
            os.kill(fake.pid, signal.SIGTERM)
            fake.wait(10)
    offered = r["sent"] / r["wall_s"]
    if not args.skip_baseline:
        # After the live run, so its memory does not count in the scanner's peak RSS.
        print(f"baseline (classifier + windows, no D-Bus): {baseline(50_000):,.0f} adverts/s")
    print(
        f"scene: {args.devices} devices, {args.minutes:g} min at {args.speed:g}x "
        f"({args.minutes * 60 / args.speed:.0f} s wall), mode {args.mode}"
    )
    print(
        f"fake BlueZ sent {r['sent']:,.0f} adverts ({offered:,.0f}/s offered), "
        f"{r['reports']:,.0f} D-Bus reports; "
        f"fell behind its schedule by up to {r['fake_behind_s']:.2f} s"
    )
    print(
        f"scanner received {r['received']:,.0f} ({r['rate']:,.0f} adverts/s), queue overflow "
        f"{r['overflow']:,.0f}, peak backlog {r['peak_lag']:,.0f} reports"
    )
    share = r["cpu_s"] / r["wall_s"]
    per_k = share / (r["rate"] / 1000) if r["rate"] else float("nan")
    print(
        f"scanner CPU {r['cpu_s']:.1f} s over {r['wall_s']:.1f} s = {share:.0%} of one core; "
        f"{per_k:.1%} of a core per 1,000 adverts/s"
    )
    print(
        f"scanner peak RSS {r['rss_peak_mb']:.1f} MB (after imports and bus setup: "
        f"{r['rss_before_mb']:.1f} MB); target < 80 MB"
    )
    if args.hours:
        hourly = r["hourly_rss_mb"]
        for i, mb in enumerate(hourly, 1):
            print(f"scene hour {i}: RSS {mb:.1f} MB")
        if hourly:
            spread = max(abs(mb / hourly[0] - 1) for mb in hourly)
            verdict = "flat" if spread <= 0.10 else "NOT flat"
            print(f"RSS after hour 1 .. {len(hourly)}: within {spread:.1%} of hour 1 ({verdict})")
        print(f"windows {r['windows']:.0f}")
        return
    print(
        f"windows {r['windows']:.0f}; mean iPhones/window {r['iphones_mean']:.0f}, "
        f"Bluezone Android/window {r['bz_android_mean']:.0f}; "
        f"devices forgotten {r['forgotten']:,.0f}"
    )


if __name__ == "__main__":
    main()
