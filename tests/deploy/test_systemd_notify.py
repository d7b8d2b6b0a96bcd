"""sd_notify from the live loop: READY once scanning, WATCHDOG only while scanning."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.node.run_live import LiveStatus
from scanner.node.systemd import Notifier, ServiceHeartbeat
from tests.fakebluez.service import FakeBlueZ
from tests.live.scene import nearby_info


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0.0)
    try:
        yield sock
    finally:
        sock.close()


def received(sock: socket.socket) -> list[dict[str, str]]:
    out = []
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return out
        out.append(dict(line.split("=", 1) for line in data.decode().splitlines()))


def test_no_notify_socket_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled and n.watchdog_s is None and n.send(READY=1) is False


def test_ready_then_watchdog_only_while_scanning(notify_socket: socket.socket) -> None:
    path = notify_socket.getsockname()
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}
    t = [0.0]
    hb = ServiceHeartbeat(Notifier(env), monotonic=lambda: t[0])
    status = LiveStatus(0.0, None, "passive", "hci0")
    hb(status)
    (ready,) = received(notify_socket)
    assert ready["READY"] == "1" and ready["STATUS"].startswith("scanning (passive)")
    t[0] = 2.0
    hb(status)
    assert received(notify_socket) == []  # pings at half of WatchdogSec (5 s), not every tick
    t[0] = 5.0
    hb(status)
    assert [m.get("WATCHDOG") for m in received(notify_socket)] == ["1"]
    # The scanner's own watchdog failed to restart the scan: stop feeding systemd's.
    status.scanning = False
    t[0] = 30.0
    hb(status)
    assert received(notify_socket) == []
    hb.stopping()
    assert received(notify_socket) == [{"STOPPING": "1"}]


def test_watchdog_meant_for_another_process_is_ignored(notify_socket: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "1000000",
           "WATCHDOG_PID": "1"}  # fmt: skip
    assert Notifier(env).watchdog_s is None


@pytest.mark.bluez
@pytest.mark.slow
async def test_bzscan_live_notifies_systemd(
    fake_bluez: FakeBlueZ, notify_socket: socket.socket, tmp_path: Path
) -> None:
    exe = Path(sys.executable).parent / "bzscan"
    # WATCHDOG_PID is not set: systemd sets it only when it cannot tell the main process.
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname(),
           "WATCHDOG_USEC": "1000000", "XDG_STATE_HOME": str(tmp_path)}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        str(exe), "--duration", "4s", "--window", "1", "--node", "n1", "--site", "s1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    for _ in range(60):
        fake_bluez.advertise("C0:11:22:33:44:55", -60, nearby_info())
        await asyncio.sleep(0.05)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    msgs = received(notify_socket)
    assert msgs[0]["READY"] == "1"  # and nothing from children (timedatectl) before it
    assert sum(m.get("WATCHDOG") == "1" for m in msgs) >= 2
    assert msgs[-1] == {"STOPPING": "1"}
