"""`bzscan doctor`: can this machine scan, and scan passively? Never prints an address."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Final, Literal

from scanner.node.clocknote import clock_note
from scanner.sources.live.bleak_scan import ScanError, connect_system_bus, list_adapters
from scanner.wire.broker import BrokerConfigError, parse_broker_url

Status = Literal["ok", "warn", "fail", "info"]
PACKAGES: Final = ("bluezone-audit", "bleak", "dbus-fast", "aiomqtt", "click", "rich", "PyYAML")
_TIMEOUT_S: Final = 3.0
_TIME_ERROR: Final = 5  # adjtimex(2): clock not synchronised


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name:<16} {self.detail}"


async def run_checks(
    *,
    adapter: str | None = None,
    broker: str | None = None,
    site: str | None = None,
    node: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> list[Check]:
    """Every check, in the order printed."""
    checks = [Check("python", "info", f"{platform.python_version()} on {sys.platform}")]
    for name in PACKAGES:
        try:
            checks.append(Check(name, "info", metadata.version(name)))
        except metadata.PackageNotFoundError:
            checks.append(Check(name, "warn", "not installed"))
    checks.append(bluez_version())
    if sys.platform.startswith("linux"):
        checks.extend(await adapter_checks(adapter))
    else:
        checks.append(Check("passive scan", "info", "Linux only; this OS scans actively"))
    checks.append(clock_check())
    if broker:
        checks.append(await broker_check(broker))
        if checks[-1].status == "ok" and site and node:
            checks.append(await ack_check(broker, site, node, username, password))
    return checks


async def ack_check(
    broker: str, site: str, node: str, username: str | None, password: str | None
) -> Check:
    """MQTT login as the node and its end-to-end ack (docs/architecture.md §7)."""
    from scanner.node.publish import probe_ack

    try:
        cfg = parse_broker_url(broker, username=username, password=password)
        status, detail = await probe_ack(cfg, site=site, node=node)
    except BrokerConfigError as exc:
        return Check("delivery", "fail", str(exc))
    return Check("delivery", status, detail)  # type: ignore[arg-type]


def bluez_version() -> Check:
    exe = shutil.which("bluetoothctl")
    if exe is None:
        return Check("bluez", "warn", "bluetoothctl not found (apt-get install bluez)")
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("bluez", "warn", f"bluetoothctl --version failed: {exc}")
    version = out.split()[-1] if out else "unknown"
    return Check("bluez", "ok", version)


async def adapter_checks(wanted: str | None) -> list[Check]:
    try:
        bus = await connect_system_bus()
    except ScanError as exc:
        return [Check("system bus", "fail", str(exc))]
    try:
        adapters = await asyncio.wait_for(list_adapters(bus), _TIMEOUT_S)
    except ScanError as exc:
        return [Check("adapters", "fail", str(exc))]
    except TimeoutError:
        return [Check("adapters", "fail", "BlueZ did not answer within 3 s")]
    finally:
        bus.disconnect()
    if not adapters:
        return [Check("adapters", "fail", "none found: plug in a Bluetooth LE adapter")]
    out = [Check("adapters", "ok", ", ".join(sorted(adapters)))]
    for name in sorted(adapters):
        a = adapters[name]
        if wanted and name != wanted:
            continue
        state = "powered" if a.powered else "powered OFF (bluetoothctl power on)"
        out.append(
            Check(
                name,
                "ok" if a.powered and a.central else "fail",
                f"{state}; {'central role' if a.central else 'no central role'}",
            )
        )
        if a.monitor_api:
            types = ", ".join(a.monitor_types) or "none"
            ok = "or_patterns" in a.monitor_types
            out.append(
                Check(
                    f"{name} passive",
                    "ok" if ok else "warn",
                    f"advertisement monitors available (types: {types})",
                )
            )
        else:
            out.append(
                Check(
                    f"{name} passive",
                    "warn",
                    "no advertisement-monitor API: enable BlueZ experimental features "
                    "(deploy/bluetooth/experimental.conf) or use --mode active",
                )
            )
    if wanted and wanted not in adapters:
        out.append(Check(wanted, "fail", "not found"))
    return out


def clock_synced() -> bool | None:
    """NTP synchronisation: timedatectl if present, else adjtimex(2); None when unknown."""
    exe = shutil.which("timedatectl")
    if exe is not None:
        try:
            r = subprocess.run(
                [exe, "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_S,
                check=False,
            )
            value = r.stdout.strip()
            if r.returncode == 0 and value in ("yes", "no"):
                return value == "yes"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return _adjtimex_synced()


def _adjtimex_synced() -> bool | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, zeroed: modes=0 only reads
        state = int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


def clock_check() -> Check:
    synced = clock_synced()
    note = clock_note(synced)
    if note is None:
        return Check("clock", "ok", "synchronised (NTP)")
    return Check("clock", "warn", note)


async def broker_check(broker: str) -> Check:
    try:
        cfg = parse_broker_url(broker)
    except BrokerConfigError as exc:
        return Check("broker", "fail", str(exc))
    host, port = cfg.host, cfg.port
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), _TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return Check("broker", "fail", f"{host}:{port} not reachable ({exc or 'timeout'})")
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Check("broker", "ok", f"{host}:{port} reachable (TCP)")


def format_checks(checks: list[Check]) -> str:
    return "\n".join(c.line() for c in checks)
