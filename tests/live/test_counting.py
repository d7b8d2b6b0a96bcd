"""Counting does not depend on BlueZ re-reporting (issue 4, point 2), in both scanning modes.

BlueZ suppresses identical repeats and merges old data into later reports; the fake copies both
(see the negative controls, which switch the per-window forget off and show the failure).
"""

from __future__ import annotations

import pytest

from tests.fakebluez.service import FakeBlueZ
from tests.live.harness import run_scene
from tests.live.scene import QUARTER, stale_scene, stationary_scene

pytestmark = pytest.mark.bluez
MODES = ["active", "passive"]


@pytest.mark.parametrize("mode", MODES)
async def test_stationary_phone_counts_in_every_window(fake_bluez: FakeBlueZ, mode: str) -> None:
    run = await run_scene(
        fake_bluez, stationary_scene(minutes=10), mode=mode, t_start=QUARTER, t_end=QUARTER + 600
    )
    assert [r.window_start - QUARTER for r in run.reports] == list(range(0, 600, 60))
    assert [r.count("iphone") for r in run.reports] == [1] * 10
    assert all(r.health.scanned_s == 60.0 and r.health.mode == mode for r in run.reports)


@pytest.mark.parametrize("mode", MODES)
async def test_stale_bluezone_data_does_not_outlive_the_window(
    fake_bluez: FakeBlueZ, mode: str
) -> None:
    run = await run_scene(
        fake_bluez, stale_scene(), mode=mode, t_start=QUARTER, t_end=QUARTER + 240
    )
    assert [r.count("bluezone", "android") for r in run.reports] == [1, 0, 0, 0]
    assert [r.count("phone", "en") for r in run.reports] == [0, 1, 1, 1]


async def test_control_passive_without_forgetting_loses_the_stationary_phone(
    fake_bluez: FakeBlueZ,
) -> None:
    # Proves the fake suppresses identical repeats as BlueZ does: without the per-window
    # forget, passive mode hears the phone once and then never again.
    run = await run_scene(
        fake_bluez,
        stationary_scene(minutes=3),
        mode="passive",
        t_start=QUARTER,
        t_end=QUARTER + 180,
        forget=False,
    )
    assert [r.count("iphone") for r in run.reports] == [1, 0, 0]


@pytest.mark.parametrize("mode", MODES)
async def test_control_without_forgetting_stale_data_is_merged(
    fake_bluez: FakeBlueZ, mode: str
) -> None:
    # Even with DuplicateData (active), BlueZ keeps ManufacturerData an advert no longer carries.
    run = await run_scene(
        fake_bluez, stale_scene(), mode=mode, t_start=QUARTER, t_end=QUARTER + 240, forget=False
    )
    assert [r.count("bluezone", "android") for r in run.reports] == [1, 1, 1, 1]
