"""A private D-Bus *system* bus (dbus-daemon, `<type>system</type>`), started and killed by PID."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
{extra}
  </policy>
</busconfig>
"""
# What a stock system.conf does to a user not in the `bluetooth` group (bluetooth.conf policy).
DENY_BLUEZ = '    <deny send_destination="org.bluez"/>'


def dbus_daemon() -> str | None:
    return shutil.which("dbus-daemon")


@contextmanager
def private_system_bus(workdir: Path, *, extra_policy: str = "") -> Iterator[str]:
    """Run a system-type bus in `workdir`; yields its address, sets DBUS_SYSTEM_BUS_ADDRESS."""
    exe = dbus_daemon()
    if exe is None:
        raise FileNotFoundError("dbus-daemon not installed (apt-get install dbus-daemon)")
    workdir.mkdir(parents=True, exist_ok=True)
    socket = workdir / "system_bus_socket"
    conf = workdir / "system.conf"
    conf.write_text(_CONFIG.format(socket=socket, extra=extra_policy), encoding="utf-8")
    proc = subprocess.Popen(
        [exe, f"--config-file={conf}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    old = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()  # printed once the socket listens
        if not address:
            raise RuntimeError("dbus-daemon did not start")
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
        yield address
    finally:
        if old is None:
            os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = old
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
