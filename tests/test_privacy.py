"""Privacy, end to end: no address, Bluezone ID or RPI leaves the scanner in any encoding.

A capture with known identifiers goes through the installed console scripts as a user would run
them (`bzscan --replay` at full log verbosity into an outbox, `bzagg ingest`, `bzagg report` in
every format), then stdout, stderr and every file written are searched for those identifiers.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scanner.ble.bluezone_id import bluezone_id
from scanner.sources.replay.write import write_capture
from tests.factories import raw_advert

BIN = Path(sys.executable).parent
T0 = 1596866400.0  # 2020-08-08T06:00:00Z
DAILY_KEY = bytes.fromhex("4C5224B397F8AB3896781D5AA0F3119F280513F1B592CA280EBDED6357E21084")
ADDRESSES = [f"7A:{i:02X}:5C:E1:9B:{0x30 + i:02X}" for i in range(12)]
RPI = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")


def _scene() -> tuple[list, list[bytes]]:
    """Two quarter-hour slots: Android Bluezone (new address per burst), iPhones, EN, iOS bg."""
    ids = [bluezone_id(DAILY_KEY, 23), bluezone_id(DAILY_KEY, 24)]
    adverts = []
    for second in range(0, 1800, 3):
        t = T0 - 900 + second
        burst = second // 15
        bz = ids[0] if t < T0 else ids[1]
        adverts.append(
            raw_advert("bz_android_v2", t=t, address=ADDRESSES[burst % 6], rssi_dbm=-60, bz_id=bz)
        )
        adverts.append(raw_advert("iphone", t=t + 0.5, address=ADDRESSES[6], rssi_dbm=-62))
        adverts.append(
            raw_advert("bz_ios_bg", t=t + 1.0, address=ADDRESSES[7], rssi_dbm=-65, in_scan_rsp=True)
        )
        adverts.append(raw_advert("gaen", t=t + 1.5, address=ADDRESSES[8], rssi_dbm=-70, rpi=RPI))
        adverts.append(raw_advert("iphone", t=t + 2.0, address=ADDRESSES[9], rssi_dbm=-99))
    return adverts, [*ids, RPI]


def _encodings(raw: bytes) -> set[bytes]:
    forms = {raw, raw[::-1]}
    out: set[bytes] = set()
    for b in forms:
        out |= {
            b.hex().encode(),
            b.hex().upper().encode(),
            b.hex(":").encode(),
            b.hex(":").upper().encode(),
            b.hex("-").upper().encode(),
            base64.b64encode(b).rstrip(b"="),
            base64.urlsafe_b64encode(b).rstrip(b"="),
        }
    out.add(raw)
    return out


def _needles(secrets: list[bytes]) -> set[bytes]:
    needles: set[bytes] = set()
    for a in ADDRESSES:
        needles |= _encodings(bytes.fromhex(a.replace(":", "")))
    for s in secrets:
        needles |= _encodings(s)
    # Very short needles would match by chance (e.g. a 6-byte address's raw bytes in a PNG):
    # every form above is at least 8 characters/bytes long.
    return {n for n in needles if len(n) >= 6}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HOME": str(cwd), "COLUMNS": "200"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=180, check=False)


@pytest.mark.slow
def test_no_identifier_in_output_logs_or_files(tmp_path: Path) -> None:
    adverts, secrets = _scene()
    capture_dir = tmp_path / "input"
    capture_dir.mkdir()
    capture = capture_dir / "scene.pcap"
    write_capture(capture, adverts, "pcap", linktype=256)
    work = tmp_path / "work"
    work.mkdir()

    outputs: list[bytes] = []
    runs = [
        [str(BIN / "bzscan"), "-vv", "--replay", str(capture), "--site", "office-1", "--node",
         "pi-1", "--rssi-min", "-90", "--outbox", "outbox.sqlite3"],
        [str(BIN / "bzscan"), "-vv", "--replay", str(capture), "--json", "--dry-run",
         "--window", "300"],
        [str(BIN / "bzagg"), "-vv", "ingest", "outbox.sqlite3", "--db", "agg.sqlite3"],
    ]  # fmt: skip
    for fmt in ("table", "csv", "json", "html", "xlsx"):
        runs.append(
            [str(BIN / "bzagg"), "report", "--db", "agg.sqlite3", "--by", "site",
             "--format", fmt, "--out", f"report.{fmt}"]
        )  # fmt: skip
    for args in runs:
        proc = _run(args, work)
        assert proc.returncode == 0, (args, proc.stderr.decode(errors="replace")[-2000:])
        outputs += [proc.stdout, proc.stderr]

    # The pipeline really saw the identifiers: Bluezone Android counted, one ID per slot.
    replay_out = outputs[0].decode()
    assert "replayed" in replay_out and " 1 " in replay_out

    files = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.name.startswith("outbox") for p in files)
    assert any(p.name.startswith("agg") for p in files)
    assert {p.suffix for p in files} >= {".html", ".xlsx", ".csv", ".json"}
    blobs = [(f"output {i}", b) for i, b in enumerate(outputs)]
    for p in files:
        blobs.append((str(p.relative_to(work)), p.read_bytes()))
        if zipfile.is_zipfile(p):  # XLSX: search the deflated members, not the compressed bytes
            with zipfile.ZipFile(p) as z:
                blobs += [(f"{p.name}:{n}", z.read(n)) for n in z.namelist()]
    needles = _needles(secrets)
    leaks = [(where, n) for where, blob in blobs for n in needles if n in blob]
    assert leaks == []
    # The search itself can fail: the capture we wrote does contain the identifiers.
    raw_capture = capture.read_bytes()
    assert any(n in raw_capture for n in needles)


@pytest.mark.slow
@pytest.mark.bluez
async def test_a_record_is_the_one_file_with_identifiers(
    fake_bluez: object, tmp_path: Path
) -> None:
    """`bzscan --record` writes identifiers on purpose, to that file only; the outbox, logs and
    output of the same live run (at full verbosity) still carry none."""
    import asyncio

    from tests.factories import advert

    work = tmp_path / "work"
    work.mkdir()
    record = work / "visit.pcapng"
    env = {**os.environ, "HOME": str(work), "XDG_STATE_HOME": str(work), "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "bzscan"), "-vv", "--record", str(record), "--duration", "3s", "--window", "1",
        "--site", "office-1", "--node", "pi-1", "--outbox", "outbox.sqlite3",
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    ids = [bluezone_id(DAILY_KEY, 23), bluezone_id(DAILY_KEY, 24)]
    loop = asyncio.get_running_loop()
    end = loop.time() + 2.5
    i = 0
    while loop.time() < end:
        fake_bluez.advertise(  # type: ignore[attr-defined]
            ADDRESSES[i % 6], -60, advert("bz_android_v2", bz_id=ids[i % 2]).adv
        )
        fake_bluez.advertise(ADDRESSES[8], -70, advert("gaen", rpi=RPI).adv)  # type: ignore[attr-defined]
        i += 1
        await asyncio.sleep(0.05)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    needles = _needles([*ids, RPI])
    blobs = [("stdout", out), ("stderr", err)]
    files = [p for p in work.rglob("*") if p.is_file() and p != record]
    assert any(p.name.startswith("outbox") for p in files)
    blobs += [(str(p.relative_to(work)), p.read_bytes()) for p in files]
    assert [(where, n) for where, blob in blobs for n in needles if n in blob] == []
    # The record does hold them: that is what it is for.
    raw = record.read_bytes()
    assert sum(1 for n in needles if n in raw) >= 3
