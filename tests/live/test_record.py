"""`bzscan --record`: a live scan on the fake BlueZ, recorded, replays into the same windows."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scanner.sources.replay.reader import ReplayStats, replay_into
from scanner.sources.replay.record import Recorder, RecordError
from scanner.wire.codec import decode
from scanner.wire.schema import WindowReport
from tests.fakebluez.service import FakeBlueZ
from tests.live.harness import counts, make_classifier, make_pipeline, run_scene
from tests.live.scene import QUARTER, main_scene
from tests.live.test_cli_live import _run

pytestmark = pytest.mark.bluez
T_START, T_END = QUARTER - 180, QUARTER + 180


def _windows(reports: list[WindowReport]) -> list[tuple[object, ...]]:
    return [
        (r.window_start, counts(r), {c: dict(v) for c, v in r.slot_counts.items()},
         r.health.adverts, r.health.below_gate)
        for r in reports if r.health.adverts
    ]  # fmt: skip


def _replayed(path: Path, window_s: int = 60) -> tuple[list[WindowReport], ReplayStats]:
    reports: list[WindowReport] = []
    pipeline = make_pipeline(make_classifier(), reports, mode="replay", window_s=window_s)
    stats = replay_into(path, pipeline)
    pipeline.finish(pipeline.summary.last_t)
    return reports, stats


@pytest.mark.parametrize(("name", "mode"), [("visit.pcapng", "active"), ("visit.jsonl", "active"),
                                            ("visit.pcapng", "passive")])  # fmt: skip
async def test_record_replays_into_the_windows_of_the_live_run(
    fake_bluez: FakeBlueZ, tmp_path: Path, name: str, mode: str
) -> None:
    path = tmp_path / name
    with Recorder(path) as recorder:
        run = await run_scene(
            fake_bluez, main_scene(), mode=mode, t_start=T_START, t_end=T_END,
            record=recorder.write,
        )  # fmt: skip
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    live = run.reports
    assert len(live) == 6 and all(r.health.adverts for r in live)
    replayed, stats = _replayed(path)
    assert stats.format == ("jsonl" if name.endswith(".jsonl") else "pcapng")
    assert recorder.adverts == stats.adverts == sum(r.health.adverts for r in live)
    assert (recorder.left_out, recorder.skipped, stats.skipped_corrupt) == (0, 0, 0)
    assert _windows(replayed) == _windows(live)
    assert (
        sum(r.count("bluezone") for r in replayed) > 0
        and sum(r.count("iphone") for r in replayed) > 0
    )


def test_a_record_never_overwrites_a_file(tmp_path: Path) -> None:
    path = tmp_path / "old.pcapng"
    path.write_bytes(b"precious")
    with pytest.raises(RecordError, match="exists"):
        Recorder(path)
    assert path.read_bytes() == b"precious"


@pytest.mark.slow
async def test_bzscan_record_warns_prints_the_path_and_replays_the_same(
    fake_bluez: FakeBlueZ, tmp_path: Path
) -> None:
    path = tmp_path / "visit.pcapng"
    os.umask(0o022)  # a usual umask: the record must still be 0600
    args = ["--record", str(path), "--duration", "3s", "--window", "1", "--json", "--dry-run",
            "--node", "n1", "--site", "s1"]  # fmt: skip
    code, out, err = await _run(args, fake_bluez, inject_s=2.5, state=tmp_path)
    assert code == 0, err
    warning = err.splitlines()[0]
    assert "WARNING" in warning and "identifiers" in warning and str(path) in warning
    assert f"to {path}" in err.splitlines()[-1] and "recorded" in err.splitlines()[-1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    live = [decode(line.encode()) for line in out.splitlines() if line.startswith("{")]
    code, out, err = await _run(["--replay", str(path), "--window", "1", "--json",
                                 "--node", "n1", "--site", "s1"])  # fmt: skip
    assert code == 0, err
    replayed = [decode(line.encode()) for line in out.splitlines() if line.startswith("{")]
    assert sum(r.health.adverts for r in live) > 20
    assert _windows(replayed) == _windows(live)
    # --record is for live scans only.
    code, _out, err = await _run(["--replay", str(path), "--record", str(tmp_path / "x.pcapng")])
    assert code == 2 and "--record" in err
    code, _out, err = await _run(args, fake_bluez, state=tmp_path)
    assert code == 2 and "exists" in err


def test_recorded_ad_bytes_say_what_the_advert_said() -> None:
    from scanner.ble.adparse import parse_ad
    from scanner.ble.advert import Advert
    from scanner.sources.replay.record import ad_bytes

    a = Advert(
        t=QUARTER, address="C0:11:22:33:44:55", rssi_dbm=-60, local_name="Bluezone",
        manufacturer_data={0x004C: bytes.fromhex("1006071ea3dd89e0"), 0x22B5: bytes(12)},
        service_data={"0000fd6f-0000-1000-8000-00805f9b34fb": bytes(20)},
        service_uuids=("00004e56-0000-1000-8000-00805f9b34fb",
                       "00004e56-73f5-4bc4-a12f-17d1ad07a667"),
        tx_power=-12,
    )  # fmt: skip
    data, left_out = ad_bytes(a)
    f = parse_ad(data)
    assert left_out == 0
    assert (f.local_name, dict(f.manufacturer_data), dict(f.service_data), f.tx_power) == (
        a.local_name, dict(a.manufacturer_data), dict(a.service_data), a.tx_power)  # fmt: skip
    assert set(f.service_uuids) == set(a.service_uuids) and f.flags is None
