"""Live BLE scanning with bleak: an async iterator of Adverts (the only module that imports bleak).

How counting stays independent of BlueZ re-reporting. BlueZ keeps one Device1 object per address;
it suppresses a report whose properties did not change and *merges* new manufacturer/service data
into old values (BlueZ `src/device.c`, `device_set_manufacturer_data`; `doc/org.bluez.Adapter.rst`,
SetDiscoveryFilter `DuplicateData`). Two measures:

1. Active mode sets the discovery filter `DuplicateData=True`: bluetoothd then replaces
   ManufacturerData/ServiceData on every report and sends PropertiesChanged for each advert, so
   every packet reaches us with only the data it carried.
2. Both modes *forget* at every window boundary: `Adapter1.RemoveDevice` for each device this
   source reported since the last boundary (never for paired, bonded, trusted or connected devices).
   BlueZ drops the object and its merged data, and the device's next advert, even a byte-identical
   one, comes back as a fresh `InterfacesAdded` carrying only that advert's data. Passive scanning
   (advertisement monitors) has no DuplicateData, so this is what makes a phone standing still
   with a constant RSSI count in every window there, and what stops stale Bluezone data from
   lingering into later windows. bluetoothd itself drops such temporary devices after 30 s of
   silence (main.conf `TemporaryTimeout`), so removing them early loses nothing.

No presence is ever assumed: a device counts in a window only if it advertised in it (a "linger"
that re-emitted old classifications would count phones that had left). Within one window, passive
mode may still merge data a device changed mid-window; it did advertise that data in the window.

Time: every advert is stamped once with `clock.now()` when bleak hands it over; the clock is
injected (`Clock`) so tests can run a ten-minute scene in virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from scanner.ble.advert import Advert
from scanner.sources.live.bluez import (
    AdapterInfo,
    connect_system_bus,
    first_central,
    list_adapters,
    remove_devices,
)
from scanner.sources.live.errors import (
    DROPIN_PATH,
    AdapterOffError,
    BusPermissionError,
    NoAdapterError,
    PassiveUnsupportedError,
    ScanError,
    msg_bus_denied,
    msg_no_adapter,
    msg_no_monitor_api,
    msg_not_linux_passive,
    msg_powered_off,
)

# Re-exported: callers import the live source's vocabulary from this one module.
__all__ = [
    "DROPIN_PATH", "AdapterInfo", "AdapterOffError", "BusPermissionError", "Clock", "LiveSource",
    "NoAdapterError", "OrPatternTuple", "PassiveUnsupportedError", "ScanError", "ScanMode",
    "SourceStats", "SystemClock", "connect_system_bus", "list_adapters",
]  # fmt: skip

log = logging.getLogger(__name__)

ScanMode = Literal["active", "passive"]
OrPatternTuple = tuple[int, int, bytes]
_QUEUE_MAX: Final = 100_000
_KEEP_FLAGS: Final = ("Paired", "Bonded", "Trusted", "Connected")


class Clock(Protocol):
    """Where time comes from: real time in production, virtual time in tests."""

    def now(self) -> float: ...
    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass(slots=True)
class SourceStats:
    received: int = 0  # adverts queued
    ignored: int = 0  # callbacks that were not adverts (RSSI invalidated on stop)
    overflow: int = 0  # adverts dropped because the consumer fell behind
    forgotten: int = 0  # devices removed from BlueZ at window boundaries


class LiveSource:
    """Scan with bleak and yield `Advert`s; `start`, iterate, `forget` per window, `stop`.

    Never connects to a device. Errors that stop scanning from starting are `ScanError`s.
    """

    def __init__(
        self,
        *,
        mode: ScanMode = "active",
        adapter: str | None = None,
        or_patterns: Sequence[OrPatternTuple] = (),
        clock: Clock | None = None,
        queue_max: int = _QUEUE_MAX,
    ) -> None:
        self.mode: ScanMode = mode
        self.adapter = adapter
        self.or_patterns = tuple(or_patterns)
        self.clock: Clock = clock or SystemClock()
        self.stats = SourceStats()
        self.last_advert_t: float | None = None
        self._queue: asyncio.Queue[Advert] = asyncio.Queue(maxsize=queue_max)
        self._scanner: Any = None
        self._bus: Any = None
        self._seen: dict[str, Mapping[str, Any]] = {}  # D-Bus path -> props, this window only
        self._linux = sys.platform.startswith("linux")

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self.mode == "passive" and not self._linux:
            raise ScanError(msg_not_linux_passive(sys.platform))
        if self.mode == "passive" and not self.or_patterns:
            raise ScanError("passive scanning needs at least one or-pattern")
        try:
            if self._linux:
                self.adapter = await self._preflight()
            await self._start_scanner()
        except BaseException:
            await self.stop()  # release the bus connection; the caller gets the real error
            raise

    async def stop(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            try:
                await scanner.stop()
            except Exception as exc:
                log.warning("stopping the scanner failed: %s", exc)
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    async def restart(self) -> None:
        """Stop and start the scanner again (the watchdog's remedy for a silent adapter)."""
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            with contextlib.suppress(Exception):
                await scanner.stop()
        if self._linux:
            await self._check_adapter_ready()
        await self._start_scanner()

    async def __aenter__(self) -> LiveSource:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __aiter__(self) -> LiveSource:
        return self

    async def __anext__(self) -> Advert:
        return await self._queue.get()

    def drain(self) -> list[Advert]:
        """Adverts already queued, without waiting (so a window closes after its last advert)."""
        out: list[Advert] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return out

    async def forget(self) -> int:
        """Remove the devices reported since the last call from BlueZ (see module docstring)."""
        seen, self._seen = self._seen, {}
        if self._bus is None or self.adapter is None or not seen:
            return 0
        paths = [p for p, props in seen.items() if not any(props.get(k) for k in _KEEP_FLAGS)]
        removed = await remove_devices(self._bus, self.adapter, paths)
        self.stats.forgotten += removed
        return removed

    # ---- bleak -----------------------------------------------------------------------------

    async def _start_scanner(self) -> None:
        from bleak import BleakScanner
        from bleak.args.bluez import BlueZScannerArgs, OrPattern
        from bleak.assigned_numbers import AdvertisementDataType
        from bleak.exc import BleakBluetoothNotAvailableError, BleakError

        bluez: BlueZScannerArgs = {}
        if self.adapter:
            bluez["adapter"] = self.adapter
        if self.mode == "passive":
            bluez["or_patterns"] = [
                OrPattern(s, AdvertisementDataType(t), c) for s, t, c in self.or_patterns
            ]
        else:
            bluez["filters"] = {"DuplicateData": True}
        try:
            scanner = BleakScanner(self._on_advert, None, scanning_mode=self.mode, bluez=bluez)
            await scanner.start()
        except BleakBluetoothNotAvailableError as exc:
            raise _from_not_available(exc, self.adapter) from exc
        except BleakError as exc:
            # bleak reports a missing monitor API only in its message text; ask BlueZ's object
            # tree instead, which says it in a field.
            if self.mode == "passive" and self._linux and not await self._has_monitor_api():
                raise PassiveUnsupportedError(msg_no_monitor_api(self.adapter or "hci0")) from exc
            raise ScanError(f"could not start scanning: {exc}") from exc
        self._scanner = scanner

    def _on_advert(self, device: Any, adv: Any) -> None:
        platform_data = adv.platform_data
        props: Mapping[str, Any] | None = None
        if self._linux and len(platform_data) == 2 and isinstance(platform_data[1], Mapping):
            path, props = platform_data
            if "RSSI" not in props:
                # bluetoothd invalidates RSSI/TxPower when discovery stops: not an advert.
                self.stats.ignored += 1
                return
            self._seen[path] = props
        t = self.clock.now()
        advert = Advert(
            t=t,
            address=device.address,
            rssi_dbm=adv.rssi,
            local_name=adv.local_name,
            manufacturer_data=adv.manufacturer_data,
            service_data=adv.service_data,
            service_uuids=tuple(u.lower() for u in adv.service_uuids),
            tx_power=adv.tx_power,
            scan_response=self.mode == "active",
        )
        try:
            self._queue.put_nowait(advert)
        except asyncio.QueueFull:
            self.stats.overflow += 1
            return
        self.stats.received += 1
        self.last_advert_t = t

    # ---- BlueZ preflight (clear errors before bleak's generic ones) ------------------------

    async def _preflight(self) -> str:
        self._bus = await connect_system_bus()
        return await self._check_adapter_ready()

    async def _has_monitor_api(self) -> bool:
        bus = self._bus
        try:
            if bus is None:
                bus = await connect_system_bus()
            info = (await list_adapters(bus)).get(self.adapter or "hci0")
        except ScanError:
            return True  # cannot tell: report bleak's own error rather than guess
        finally:
            if bus is not None and bus is not self._bus:
                bus.disconnect()
        return info is not None and info.monitor_api

    async def _check_adapter_ready(self) -> str:
        if self._bus is None:
            self._bus = await connect_system_bus()
        adapters = await list_adapters(self._bus)
        if not adapters:
            raise NoAdapterError(msg_no_adapter(self.adapter, []))
        if self.adapter is not None and self.adapter not in adapters:
            raise NoAdapterError(msg_no_adapter(self.adapter, sorted(adapters)))
        name = self.adapter or first_central(adapters)
        info = adapters[name]
        if not info.powered:
            raise AdapterOffError(msg_powered_off(name))
        if self.mode == "passive" and not info.monitor_api:
            raise PassiveUnsupportedError(msg_no_monitor_api(name))
        return name


def _from_not_available(exc: Exception, adapter: str | None) -> ScanError:
    from bleak.exc import BleakBluetoothNotAvailableReason as R

    reason = getattr(exc, "reason", None)
    if reason == R.POWERED_OFF:
        return AdapterOffError(msg_powered_off(adapter or "the adapter"))
    if reason in (R.NO_BLUETOOTH, R.NO_BLE_CENTRAL_ROLE):
        return NoAdapterError(msg_no_adapter(adapter, []))
    if reason in (R.DENIED_BY_SYSTEM, R.DENIED_BY_USER, R.DENIED_BY_UNKNOWN):
        return BusPermissionError(msg_bus_denied(str(exc)))
    return ScanError(f"Bluetooth is not available: {exc}")
