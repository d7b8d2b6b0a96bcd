"""Why live scanning cannot start or go on, each with the fix in its message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from scanner.errors import ScannerError

# The systemd drop-in that runs bluetoothd with the experimental advertisement-monitor API.
DROPIN_PATH: Final = "deploy/bluetooth/experimental.conf"


class ScanError(ScannerError):
    """Live scanning cannot start or continue; the message says what to do."""


class BusPermissionError(ScanError):
    pass


class NoAdapterError(ScanError):
    pass


class AdapterOffError(ScanError):
    pass


class PassiveUnsupportedError(ScanError):
    pass


def msg_no_adapter(wanted: str | None, found: Sequence[str]) -> str:
    if wanted and found:
        return (
            f"Bluetooth adapter {wanted} not found (found: {', '.join(found)}); "
            f"pass --adapter {found[0]} or leave --adapter out"
        )
    return (
        "no Bluetooth adapter found: plug in a Bluetooth 4.0+ (LE) adapter, check `rfkill list` "
        "and `systemctl status bluetooth`, then try again"
    )


def msg_powered_off(adapter: str) -> str:
    return (
        f"Bluetooth adapter {adapter} is powered off: run `bluetoothctl power on` "
        "(and `rfkill unblock bluetooth` if it is blocked), then try again"
    )


def msg_no_monitor_api(adapter: str) -> str:
    return (
        f"passive scanning needs BlueZ's experimental advertisement-monitor API, which {adapter} "
        f"does not offer (BlueZ >= 5.56 and Linux >= 5.10 are needed): install the systemd drop-in "
        f"{DROPIN_PATH} (runs bluetoothd -E) or set `Experimental = true` in "
        "/etc/bluetooth/main.conf, then `systemctl restart bluetooth`; or use --mode active"
    )


def msg_bus_denied(detail: str) -> str:
    return (
        f"no permission to use BlueZ on the D-Bus system bus ({detail}): add this user to the "
        "`bluetooth` group (`sudo usermod -aG bluetooth $USER`, then log in again) or run the "
        "scanner as the bzaudit service user"
    )


def msg_bus_unreachable(detail: str) -> str:
    return (
        f"cannot connect to the D-Bus system bus ({detail}): is dbus running "
        "(`systemctl status dbus`)? On Linux the scanner talks to BlueZ over the system bus"
    )


def msg_not_linux_passive(platform: str) -> str:
    return (
        "passive scanning is only available on Linux (BlueZ advertisement monitors); "
        f"on {platform} "
        "bleak scans actively only: use --mode active"
    )
