"""`bzscan calibrate` end to end: on a replayed capture and on the fake BlueZ."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scanner.ble.bluezone_id import bluezone_id
from scanner.sources.replay.write import write_capture
from tests.factories import raw_advert
from tests.fakebluez.service import FakeBlueZ
from tests.live.scene import bz_android, nearby_info

T0 = 1596866400.0  # 2020-08-08T06:00:00Z
KEY = bytes.fromhex("4C5224B397F8AB3896781D5AA0F3119F280513F1B592CA280EBDED6357E21084")


def _bzscan() -> list[str]:
    exe = Path(sys.executable).parent / "bzscan"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "scanner.cli.main"]


def test_calibrate_on_a_replayed_walk_writes_the_gate(tmp_path: Path) -> None:
    # Two minutes' walk: the reference Bluezone Android (new address per 15 s burst, median
    # -78 dBm with fading), an iPhone on the desk (steady, weaker), a phone that passes close
    # by for 3 s (strong, not steady).
    rng = random.Random(7)
    bzid = bluezone_id(KEY, 24)
    adverts = []
    for k in range(1200):
        t = T0 + 0.1 * k
        if (k // 150) % 2 == 0:  # 15 s on, 15 s off
            addr = f"7A:00:00:00:00:{k // 150:02X}"
            adverts.append(raw_advert("bz_android_v2", t=t, address=addr,
                                      rssi_dbm=round(rng.gauss(-78, 4)), bz_id=bzid))  # fmt: skip
        if k % 10 == 0:
            adverts.append(raw_advert("iphone", t=t + 0.05, address="5C:11:22:33:44:55",
                                      rssi_dbm=round(rng.gauss(-86, 2))))  # fmt: skip
        if 200 <= k < 230:
            adverts.append(raw_advert("iphone", t=t + 0.07, address="6E:11:22:33:44:66",
                                      rssi_dbm=-50))  # fmt: skip
    cap = tmp_path / "walk.pcap"
    write_capture(cap, adverts, "pcap", linktype=256)
    cfg = tmp_path / "node.yaml"
    cfg.write_text("site: office-1\nrssi-min: -90\n", encoding="utf-8")
    proc = subprocess.run(
        [*_bzscan(), "calibrate", "--replay", str(cap), "--write", str(cfg), "--yes"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "proposed RSSI gate: -78 dBm" in proc.stdout
    assert yaml.safe_load(cfg.read_text(encoding="utf-8")) == {"site": "office-1", "rssi_min": -78}
    # The written file is a valid node config: bzscan accepts it.
    check = subprocess.run([*_bzscan(), "--config", str(cfg), "--replay", str(cap), "--dry-run"],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert "5C:11" not in proc.stdout + proc.stderr  # no address printed


def test_calibrate_without_a_device_fails(tmp_path: Path) -> None:
    cap = tmp_path / "empty.pcap"
    write_capture(cap, [], "pcap", linktype=256)
    proc = subprocess.run([*_bzscan(), "calibrate", "--replay", str(cap)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 1 and "no steady device heard" in proc.stderr


@pytest.mark.bluez
@pytest.mark.slow
async def test_calibrate_live_on_the_fake_bluez(fake_bluez: FakeBlueZ, tmp_path: Path) -> None:
    cfg = tmp_path / "node.yaml"
    proc = await asyncio.create_subprocess_exec(
        *_bzscan(), "calibrate", "--duration", "4s", "--write", str(cfg), "--yes",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    end = loop.time() + 3.5
    i = 0
    while loop.time() < end:
        fake_bluez.advertise("D0:00:00:00:00:01", -71 - i % 3, bz_android(bytes(range(12))))
        fake_bluez.advertise("C0:11:22:33:44:55", -88, nearby_info())
        i += 1
        await asyncio.sleep(0.05)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "proposed RSSI gate: -72 dBm" in out.decode()
    assert yaml.safe_load(cfg.read_text(encoding="utf-8")) == {"rssi_min": -72}


def test_a_reference_iphone_proposes_the_gate_in_android_terms() -> None:
    from scanner.ble.classify import Sighting
    from scanner.counting.calibration import GateCalibrator
    from scanner.counting.window import APPLE_GATE_OFFSET_DB

    cal = GateCalibrator(salt=b"s" * 32)
    ref = Sighting(category="iphone", stratum="all", key=b"ref", rolling=False, rule="t",
                   counted=True)  # fmt: skip
    for k in range(120):
        cal.add(T0 + k, -70, [ref])
    got = cal.proposal()
    assert got is not None and got.median_dbm == -70
    assert got.gate_dbm == -70 - APPLE_GATE_OFFSET_DB  # the counter adds the offset back
