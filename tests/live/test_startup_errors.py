"""Every startup error names its fix (issue 4, point 4), through the real bleak backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from scanner.sources.live.bleak_scan import (
    DROPIN_PATH,
    AdapterOffError,
    BusPermissionError,
    LiveSource,
    NoAdapterError,
    PassiveUnsupportedError,
    ScanError,
)
from tests.fakebluez.bus import DENY_BLUEZ, private_system_bus
from tests.fakebluez.fixtures import _need_dbus
from tests.fakebluez.service import FakeBlueZ

pytestmark = pytest.mark.bluez
Factory = Callable[..., Awaitable[FakeBlueZ]]
APPLE = (0, 0xFF, b"\x4c\x00")


async def test_no_adapter(fake_bluez_factory: Factory) -> None:
    await fake_bluez_factory(adapters=())
    with pytest.raises(NoAdapterError, match=r"no Bluetooth adapter found: plug in .*rfkill list"):
        await LiveSource(mode="active").start()


async def test_unknown_adapter_lists_the_ones_found(fake_bluez_factory: Factory) -> None:
    await fake_bluez_factory(adapters=("hci0",))
    with pytest.raises(
        NoAdapterError, match=r"adapter hci1 not found \(found: hci0\); pass --adapter hci0"
    ):
        await LiveSource(mode="active", adapter="hci1").start()


@pytest.mark.parametrize("mode", ["active", "passive"])
async def test_powered_off(fake_bluez_factory: Factory, mode: str) -> None:
    await fake_bluez_factory(powered=False)
    src = LiveSource(mode=mode, or_patterns=[APPLE])  # type: ignore[arg-type]
    with pytest.raises(AdapterOffError, match=r"hci0 is powered off: run `bluetoothctl power on`"):
        await src.start()
    await src.stop()


async def test_passive_without_monitor_api_points_to_the_dropin(
    fake_bluez_factory: Factory,
) -> None:
    fake = await fake_bluez_factory(monitor_api=False)
    src = LiveSource(mode="passive", or_patterns=[APPLE])
    with pytest.raises(PassiveUnsupportedError) as err:
        await src.start()
    await src.stop()
    text = str(err.value)
    assert DROPIN_PATH in text and "Experimental = true" in text and "--mode active" in text
    assert (Path(__file__).parents[2] / DROPIN_PATH).is_file()
    assert "-E" in (Path(__file__).parents[2] / DROPIN_PATH).read_text()
    assert not fake.calls_named("RegisterMonitor")  # refused before bleak tried


async def test_bleak_own_monitor_error_is_translated(fake_bluez_factory: Factory) -> None:
    # Skip the preflight: bleak's UnknownMethod error must map to the same message.
    await fake_bluez_factory(monitor_api=False)
    src = LiveSource(mode="passive", adapter="hci0", or_patterns=[APPLE])
    with pytest.raises(PassiveUnsupportedError, match=DROPIN_PATH):
        await src._start_scanner()


async def test_no_permission_on_the_system_bus(tmp_path: Path) -> None:
    _need_dbus()
    with private_system_bus(tmp_path / "dbus", extra_policy=DENY_BLUEZ):
        fake = FakeBlueZ()
        await fake.start()
        try:
            with pytest.raises(BusPermissionError, match=r"usermod -aG bluetooth"):
                await LiveSource(mode="active").start()
        finally:
            await fake.stop()


async def test_system_bus_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/nothing-here")
    with pytest.raises(
        ScanError, match=r"cannot connect to the D-Bus system bus .*systemctl status dbus"
    ):
        await LiveSource(mode="active").start()


async def test_bluez_not_running(system_bus: str) -> None:
    with pytest.raises(
        NoAdapterError, match=r"bluetoothd\) is not running.*systemctl start bluetooth"
    ):
        await LiveSource(mode="active").start()
