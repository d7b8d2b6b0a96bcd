"""End to end: fake BlueZ -> D-Bus -> unmodified bleak -> live source -> WindowReports."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.node.run_live import passive_plan
from tests.fakebluez.service import FakeBlueZ
from tests.live.harness import counts, make_classifier, make_pipeline, run_scene
from tests.live.scene import QUARTER, main_scene

pytestmark = pytest.mark.bluez
T_START, T_END = QUARTER - 180, QUARTER + 180

# Per window, for the six one-minute windows around the :00 rotation (scene.main_scene):
# one Bluezone Android (new address every burst, new ID at :00), one foreground and one background
# Bluezone iPhone, two plain iPhones, one GAEN phone, a Windows PC, an unknown gadget, and an
# iPhone at -95 dBm that the -80 dBm gate keeps out.
ACTIVE = {
    ("bluezone", "android"): 1,
    ("bluezone", "ios_fg"): 1,
    ("bluezone", "ios_bg"): 1,
    ("iphone", "all"): 3,
    ("phone", "en"): 1,
    ("other", "pc"): 1,
    ("other", "unknown"): 1,
}
# Passive: no scan responses (the background overflow area is in the SCAN_RSP) and no monitor
# pattern for unknown manufacturers.
PASSIVE = {**ACTIVE, ("bluezone", "ios_bg"): 0, ("other", "unknown"): 0}


def _nonzero(c: dict[str, dict[str, int]]) -> dict[tuple[str, str], int]:
    return {(cat, s): n for cat, v in c.items() for s, n in v.items() if n}


@pytest.mark.parametrize(("mode", "expected"), [("active", ACTIVE), ("passive", PASSIVE)])
async def test_scene_windows(fake_bluez: FakeBlueZ, mode: str, expected: dict[Any, int]) -> None:
    run = await run_scene(fake_bluez, main_scene(), mode=mode, t_start=T_START, t_end=T_END)
    assert [r.window_start for r in run.reports] == list(range(T_START, T_END, 60))
    want = {k: v for k, v in expected.items() if v}
    for r in run.reports:
        assert _nonzero(counts(r)) == want, r.window_start - QUARTER
        # Rolling IDs are counted per UTC slot too; a window never straddles the rotation.
        assert r.slot_counts["bluezone"]["android"] == 1
        h = r.health
        assert (h.mode, h.adapter, h.restarts, h.scanned_s) == (mode, "hci0", 0, 60.0)
        assert h.below_gate > 0  # the far iPhone
    calls = {m for m, _s, _b in fake_bluez.calls}
    if mode == "active":
        assert {"SetDiscoveryFilter", "StartDiscovery", "StopDiscovery"} <= calls
        assert {"Transport": "le", "DuplicateData": True} in fake_bluez.calls_named(
            "SetDiscoveryFilter"
        )[0]
    else:
        assert "StartDiscovery" not in calls
        assert {"RegisterMonitor", "UnregisterMonitor"} <= calls
    assert "RemoveDevice" in calls  # the per-window forget


async def test_active_scene_counts_like_the_replay_path(fake_bluez: FakeBlueZ) -> None:
    txs = main_scene()
    run = await run_scene(fake_bluez, txs, mode="active", t_start=T_START, t_end=T_END)
    oracle: list[Any] = []
    pipe = make_pipeline(make_classifier(), oracle, mode="replay")
    pipe.start(T_START)
    for tx in txs:
        pipe.feed_raw(tx.t, tx.address, tx.rssi, tx.adv, tx.scan_rsp or None)
    pipe.finish(T_END - 1e-6)
    assert [counts(r) for r in run.reports] == [counts(r) for r in oracle]


def test_passive_plan_names_what_it_cannot_see() -> None:
    plan = passive_plan(make_classifier())
    assert (0, 0xFF, b"\xb5\x22") in plan.patterns  # Bluezone Android, company 0x22B5
    assert (0, 0xFF, b"\x4c\x00") in plan.patterns  # Apple, for the iPhone denominator
    assert (0, 0x16, b"\x6f\xfd") in plan.patterns  # GAEN service data
    assert "bz_ios_v2_bg" in plan.unseen
    assert "cannot see" in plan.describe() and "--mode active" in plan.describe()
