"""Pi memory check: bzscan's live run (fake BlueZ -> D-Bus -> bleak -> windows -> outbox) over a
time-compressed scene, peak RSS against the MemoryMax of deploy/pi/bzscan.service.

The scanner runs in its own process, exactly as `bzscan --config scanner.yaml` runs it (the same
option parsing, pipeline, live view on a non-terminal and outbox), except that its clock runs
`--speed` times faster. The fake BlueZ runs in a third process, so the figure is the scanner's
alone. The scanner tells it is scanning with sd_notify READY=1, which starts the playback.

    .venv/bin/python bench/pi_memory.py [--devices 400] [--minutes 30] [--speed 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UNIT = ROOT / "deploy" / "pi" / "bzscan.service"
QUARTER = 1_597_906_800  # tests/live/scene.py: a Bluezone rotation instant


def memory_max_mb(unit: Path = UNIT) -> float:
    m = re.search(r"^MemoryMax=(\d+)([KMG])$", unit.read_text(), re.M)
    if m is None:
        raise SystemExit(f"{unit}: no MemoryMax=")
    return int(m.group(1)) * {"K": 1 / 1024, "M": 1, "G": 1024}[m.group(2)]


class CompressedClock:
    """Scene time `speed` times faster than the wall clock (time.monotonic underneath)."""

    def __init__(self, t0: float, speed: float) -> None:
        self.t0, self.speed, self.m0 = t0, speed, time.monotonic()

    def now(self) -> float:
        return self.t0 + (time.monotonic() - self.m0) * self.speed

    async def sleep(self, seconds: float) -> None:
        import asyncio

        await asyncio.sleep(max(0.0, seconds) / self.speed)


def child(args: argparse.Namespace) -> None:
    from scanner.cli.live import run_live_cli
    from scanner.cli.main import main as bzscan

    argv = ["--config", args.config, "--outbox", args.outbox, "--duration", f"{args.minutes}m"]
    ctx = bzscan.make_context("bzscan", argv)
    with ctx:
        run_live_cli(ctx.params, clock=CompressedClock(QUARTER, args.speed))
    # VmHWM is this process's own peak (getrusage's ru_maxrss would include the parent's memory
    # copied by fork before exec, e.g. a whole pytest process).
    status = Path("/proc/self/status").read_text()
    kb = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
    Path(args.outbox + ".hwm").write_text(str(kb))


def control(member: str) -> str:
    """One call on the fake's control interface, from this (synchronous) process."""
    import asyncio

    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    async def go() -> str:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            reply = await bus.call(
                Message(destination="org.bluez", path="/org/bluezaudit/fakebluez",
                        interface="org.bluezaudit.FakeBlueZ1", member=member)
            )  # fmt: skip
        finally:
            bus.disconnect()
        assert reply is not None
        return str(reply.body[0]) if reply.body else ""

    return asyncio.run(go())


def measure(devices: int, minutes: float, speed: float, mode: str) -> dict[str, float]:
    """Run the scene; the scanner's peak RSS (MB), windows in its outbox, adverts it got."""
    from tests.fakebluez.bus import private_system_bus

    base = ROOT / ".tmp" if (ROOT / ".tmp").is_dir() else None
    with tempfile.TemporaryDirectory(dir=base) as d, private_system_bus(Path(d) / "dbus"):
        work = Path(d)
        config = work / "scanner.yaml"
        config.write_text(f"node: pi-bench\nsite: site-1\nmode: {mode}\nwatchdog: 0\n")
        outbox = work / "outbox.sqlite3"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(work / "notify"))
        notify.settimeout(60)
        fake = subprocess.Popen(
            [sys.executable, "-m", "tests.fakebluez", "--crowd", str(devices), "--minutes",
             str(minutes), "--speed", str(speed)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert fake.stdout is not None
            if fake.stdout.readline().strip() != "READY":
                raise SystemExit("fake BlueZ did not start")
            env = {**os.environ, "NOTIFY_SOCKET": str(work / "notify"),
                   "XDG_STATE_HOME": str(work)}  # fmt: skip
            errors = work / "scanner.err"
            with errors.open("wb") as err_file:
                scan = subprocess.Popen(
                    [sys.executable, __file__, "--child", "--config", str(config), "--outbox",
                     str(outbox), "--minutes", str(minutes), "--speed", str(speed)],
                    cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=err_file,
                )  # fmt: skip
            msg = notify.recv(4096).decode()
            if "READY=1" not in msg:
                raise SystemExit(f"scanner did not report READY: {msg!r}")
            control("Play")
            t0 = time.monotonic()
            _, status, usage = os.wait4(scan.pid, 0)
            wall = time.monotonic() - t0
            scan.returncode = os.waitstatus_to_exitcode(status)
            if scan.returncode != 0:
                err = errors.read_text(errors="replace")[-2000:]
                raise SystemExit(f"scanner failed ({scan.returncode}):\n{err}")
            state = json.loads(control("PlayState"))
        finally:
            fake.send_signal(signal.SIGTERM)
            fake.wait(10)
            if fake.stdout is not None:
                fake.stdout.close()
            notify.close()
        import sqlite3

        con = sqlite3.connect(outbox)
        try:
            windows = con.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        finally:
            con.close()
        peak_kb = int(Path(str(outbox) + ".hwm").read_text())
    return {"rss_peak_mb": peak_kb / 1024, "windows": windows, "sent": state["sent"],
            "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--devices", type=int, default=400)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--speed", type=float, default=10.0, help="scene seconds per wall second")
    p.add_argument("--mode", choices=["active", "passive"], default="passive")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--outbox", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    r = measure(args.devices, args.minutes, args.speed, args.mode)
    limit = memory_max_mb()
    print(
        f"scene: {args.devices} devices, {args.minutes:g} min at {args.speed:g}x "
        f"({r['wall_s']:.0f} s wall), mode {args.mode}; fake BlueZ sent {r['sent']:,} adverts"
    )
    print(f"outbox: {r['windows']} windows; scanner CPU {r['cpu_s']:.1f} s")
    verdict = "under" if r["rss_peak_mb"] < limit else "OVER"
    print(
        f"bzscan peak RSS {r['rss_peak_mb']:.1f} MB: {verdict} MemoryMax={limit:.0f}M ({UNIT.name})"
    )
    if r["rss_peak_mb"] >= limit:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
