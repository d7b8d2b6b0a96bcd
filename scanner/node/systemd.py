"""systemd service notifications (READY, WATCHDOG, STATUS, STOPPING) over $NOTIFY_SOCKET.

The sd_notify(3) datagram protocol is written here rather than taken from a package: it is one
datagram of `KEY=VALUE` lines on a Unix socket, documented as a stable interface that services may
implement themselves; the pure-Python package (`sdnotify`) has had no release since 2017 and
`systemd-python` needs libsystemd headers and a C compiler on every Pi. Outside systemd (no
$NOTIFY_SOCKET: a laptop, a test) every call is a no-op.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Final

from scanner.node.run_live import LiveStatus

log = logging.getLogger(__name__)

NOTIFY_SOCKET: Final = "NOTIFY_SOCKET"
WATCHDOG_USEC: Final = "WATCHDOG_USEC"
WATCHDOG_PID: Final = "WATCHDOG_PID"
_VARS: Final = (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID)


class Notifier:
    """Sends sd_notify messages when started by systemd; silent otherwise."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        if env is None:
            # Taken out of the environment, as sd_notify(3)'s unset_environment does: children
            # (timedatectl) would otherwise notify on our behalf, e.g. ERRNO= when they fail.
            env = {k: os.environ.pop(k) for k in _VARS if k in os.environ}
        raw = env.get(NOTIFY_SOCKET, "")
        # An abstract socket is spelled with a leading '@' (sd_notify(3)).
        self.address: str | None = ("\0" + raw[1:]) if raw.startswith("@") else (raw or None)
        self.watchdog_s = _watchdog_seconds(env)
        self._sock: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str | int) -> bool:
        """One notification, e.g. `send(READY=1, STATUS="scanning")`; False if not delivered."""
        if self.address is None or self._failed:
            return False
        msg = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(msg, self.address)
        except OSError as exc:
            # Log once and stop trying: systemd then restarts us on the watchdog, which is right
            # when the notify socket itself is gone.
            log.error("cannot notify systemd at %s: %s", self.address.lstrip("\0"), exc)
            self._failed = True
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


class ServiceHeartbeat:
    """The live loop's status hook for systemd: READY once scanning, then WATCHDOG while healthy.

    The systemd watchdog is fed only while the scanner is scanning. When the scanner's own
    watchdog could not restart the scan (`LiveStatus.scanning` is false), the pings stop and
    systemd restarts the whole service after `WatchdogSec=`, which also gets a fresh D-Bus
    connection and BlueZ object tree. A hung event loop stops the pings too.
    """

    def __init__(self, notifier: Notifier, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.notifier = notifier
        # Monotonic, not the scan clock: an RTC-less Pi's wall clock jumps when NTP syncs.
        self._monotonic = monotonic
        self.ready = False
        self._last_ping = float("-inf")
        # Ping at half the watchdog period (sd_watchdog_enabled(3) recommends that).
        self._every_s = notifier.watchdog_s / 2 if notifier.watchdog_s else None

    def __call__(self, status: LiveStatus) -> None:
        if not self.notifier.enabled:
            return
        text = (
            f"{'scanning' if status.scanning else 'NOT scanning'} ({status.mode}); "
            f"{status.adverts} adverts; {status.restarts} restarts"
        )
        if not self.ready:
            self.ready = self.notifier.send(READY=1, STATUS=text)
            self._last_ping = self._monotonic()
            return
        if self._every_s is None or not status.scanning:
            return
        now = self._monotonic()
        if now - self._last_ping >= self._every_s:
            self.notifier.send(WATCHDOG=1, STATUS=text)
            self._last_ping = now

    def stopping(self) -> None:
        self.notifier.send(STOPPING=1)
        self.notifier.close()


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    usec = env.get(WATCHDOG_USEC)
    pid = env.get(WATCHDOG_PID)
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None
