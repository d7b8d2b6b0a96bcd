"""The raw BlueZ D-Bus calls bleak does not make for us (the only dbus_fast import).

Adapter discovery for clear start-up errors, and RemoveDevice to make BlueZ forget devices.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from scanner.sources.live.errors import (
    BusPermissionError,
    NoAdapterError,
    ScanError,
    msg_bus_denied,
    msg_bus_unreachable,
)

BLUEZ: Final = "org.bluez"
ADAPTER_IFACE: Final = "org.bluez.Adapter1"
_MONITOR_MANAGER: Final = "org.bluez.AdvertisementMonitorManager1"
_FORGET_CHUNK: Final = 64


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What doctor and the preflight need to know about an adapter (never its address)."""

    name: str
    powered: bool
    central: bool
    monitor_api: bool
    monitor_types: tuple[str, ...] = ()


async def connect_system_bus() -> Any:
    """A dbus-fast connection to the system bus, with errors turned into ScanErrors."""
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus
    from dbus_fast.errors import AuthError

    try:
        return await MessageBus(bus_type=BusType.SYSTEM).connect()
    except AuthError as exc:
        raise BusPermissionError(msg_bus_denied(str(exc))) from exc
    except PermissionError as exc:
        raise BusPermissionError(msg_bus_denied(exc.strerror or str(exc))) from exc
    except (OSError, ValueError) as exc:
        raise ScanError(msg_bus_unreachable(str(exc) or type(exc).__name__)) from exc


async def list_adapters(bus: Any) -> dict[str, AdapterInfo]:
    """BlueZ's adapters by name (hci0, ...), from one GetManagedObjects call."""
    from dbus_fast import Message, MessageType

    reply = await bus.call(
        Message(
            destination=BLUEZ,
            path="/",
            interface="org.freedesktop.DBus.ObjectManager",
            member="GetManagedObjects",
        )
    )
    if reply.message_type == MessageType.ERROR:
        name = reply.error_name or ""
        if name.endswith(("AccessDenied", "NotAuthorized")):
            raise BusPermissionError(msg_bus_denied(name))
        if name.endswith(("ServiceUnknown", "NameHasNoOwner")):
            raise NoAdapterError(
                "BlueZ (bluetoothd) is not running on the system bus: "
                "`sudo systemctl start bluetooth`, then try again"
            )
        raise ScanError(f"BlueZ answered GetManagedObjects with {name}: {reply.body}")
    out: dict[str, AdapterInfo] = {}
    for path, ifaces in reply.body[0].items():
        props = ifaces.get(ADAPTER_IFACE)
        if props is None:
            continue
        name = path.rsplit("/", 1)[-1]
        mm = ifaces.get(_MONITOR_MANAGER)
        types = (
            tuple(mm["SupportedMonitorTypes"].value) if mm and "SupportedMonitorTypes" in mm else ()
        )
        roles = props["Roles"].value if "Roles" in props else ["central"]
        out[name] = AdapterInfo(
            name=name,
            powered=bool(props["Powered"].value) if "Powered" in props else False,
            central="central" in roles,
            monitor_api=mm is not None,
            monitor_types=types,
        )
    return out


def first_central(adapters: Mapping[str, AdapterInfo]) -> str:
    # bleak picks the first powered adapter with the central role; mirror it so the name is known.
    names = sorted(adapters)
    central = [n for n in names if adapters[n].central] or names
    powered = [n for n in central if adapters[n].powered]
    return (powered or central)[0]


async def remove_devices(bus: Any, adapter: str, paths: Sequence[str]) -> int:
    """Adapter1.RemoveDevice for each D-Bus path; how many BlueZ removed."""
    from dbus_fast import Message, MessageType

    adapter_path = f"/org/bluez/{adapter}"
    removed = 0
    # In chunks: dbus-fast drops the connection if its socket ever fills (EAGAIN), so a
    # window's worth of calls must not be queued at once.
    for i in range(0, len(paths), _FORGET_CHUNK):
        calls = [
            bus.call(
                Message(
                    destination=BLUEZ,
                    path=adapter_path,
                    interface=ADAPTER_IFACE,
                    member="RemoveDevice",
                    signature="o",
                    body=[p],
                )
            )
            for p in paths[i : i + _FORGET_CHUNK]
        ]
        for reply in await asyncio.gather(*calls, return_exceptions=True):
            if (
                not isinstance(reply, BaseException)
                and reply.message_type == MessageType.METHOD_RETURN
            ):
                removed += 1
    return removed
