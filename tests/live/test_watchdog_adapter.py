"""The watchdog restarts a silent scanner and the windows say so; --adapter picks the adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.fakebluez.service import FakeBlueZ
from tests.live.harness import run_scene
from tests.live.scene import QUARTER, Tx, nearby_info

pytestmark = pytest.mark.bluez


def _gap_scene() -> list[Tx]:
    # One iPhone for a minute, silence for two, then back for the fourth minute.
    addr = "C0:11:22:33:44:66"
    return [
        Tx(QUARTER + s, addr, -60 - s % 3, nearby_info())
        for s in [*range(0, 60, 2), *range(180, 240, 2)]
    ]


async def test_watchdog_restarts_after_silence(fake_bluez: FakeBlueZ) -> None:
    run = await run_scene(
        fake_bluez, _gap_scene(), mode="active", t_start=QUARTER, t_end=QUARTER + 240, watchdog_s=30
    )
    restarts = [r.health.restarts for r in run.reports]
    assert restarts[0] == 0 and restarts[1] >= 1 and restarts[2] >= 1
    assert sum(restarts) == run.restarts
    assert len(fake_bluez.calls_named("StartDiscovery")) == 1 + run.restarts
    # Scanning works again after the restarts: the phone is counted when it comes back.
    assert [r.count("iphone") for r in run.reports] == [1, 0, 0, 1]


async def test_no_watchdog_no_restarts(fake_bluez: FakeBlueZ) -> None:
    run = await run_scene(
        fake_bluez, _gap_scene(), mode="active", t_start=QUARTER, t_end=QUARTER + 240, watchdog_s=0
    )
    assert [r.health.restarts for r in run.reports] == [0, 0, 0, 0]
    assert len(fake_bluez.calls_named("StartDiscovery")) == 1


@pytest.mark.parametrize("mode", ["active", "passive"])
async def test_adapter_selection(
    fake_bluez_factory: Callable[..., Awaitable[FakeBlueZ]], mode: str
) -> None:
    fake = await fake_bluez_factory(adapters=("hci0", "hci1"))
    txs = [Tx(QUARTER + s, "C0:11:22:33:44:77", -60, nearby_info()) for s in range(0, 60, 5)]
    run = await run_scene(fake, txs, mode=mode, t_start=QUARTER, t_end=QUARTER + 60, adapter="hci1")
    assert [r.count("iphone") for r in run.reports] == [1]
    assert run.reports[0].health.adapter == "hci1"
    assert fake.dropped == 0  # hci1 was scanning: nothing injected there was dropped
