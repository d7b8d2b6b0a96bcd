"""Independent decoders agree with ours: tshark on pcap/pcapng, btmon on btsnoop.

For every packet of a written scene, the address, RSSI, company ids, 16-bit UUIDs (lists and
service data) and 128-bit UUIDs that tshark or btmon decode must equal what the replay reader
and `scanner.ble.adparse` report. tshark also validates our CRC-24 and PHDR on link types 251/256.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.ble.adparse import iter_ad
from scanner.sources.replay.reader import ReplayStats, iter_batches
from scanner.sources.replay.write import write_capture
from tests.conftest import IN_CI
from tests.replay import ads

Packet = tuple[str, int | None, list[int], list[int], list[str], list[bytes]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            package = "bluez" if name == "btmon" else "tshark"
            pytest.fail(f"{name} is required in CI (Debian package {package})")
        pytest.skip(f"{name} not installed")
    return path


def _ours(path: Path) -> list[Packet]:
    """One entry per packet: a merged row stands for its scan-response packet."""
    out: list[Packet] = []
    for rows in iter_batches(path):
        for _t, address, rssi, adv, rsp, _kind in rows:
            data = rsp if rsp is not None else adv
            companies, u16, u128, mfr = [], [], [], []
            for ad_type, d in iter_ad(data):
                if ad_type == 0xFF and len(d) >= 2:
                    companies.append(d[0] | d[1] << 8)
                    mfr.append(d[2:])
                elif ad_type in (0x02, 0x03):
                    u16 += [d[i] | d[i + 1] << 8 for i in range(0, len(d) - 1, 2)]
                elif ad_type == 0x16 and len(d) >= 2:
                    u16.append(d[0] | d[1] << 8)
                elif ad_type in (0x06, 0x07):
                    u128 += [d[i : i + 16][::-1].hex() for i in range(0, len(d) - 15, 16)]
            out.append((address.lower(), rssi, companies, u16, u128, mfr))
    return out


def _ints(field: str) -> list[int]:
    return [int(x, 16) for x in field.split(",") if x]


@pytest.fixture(scope="module")
def scene_adverts() -> list[object]:
    return list(ads.scene(seconds=40).adverts)


TSHARK_VARIANTS = [("pcap", 256, 3), ("pcap", 251, 3), ("pcap", 201, 3), ("pcapng", 256, 3),
                   ("pcap", 272, 0), ("pcap", 272, 1), ("pcap", 272, 2), ("pcap", 272, 3),
                   ("pcapng", 272, 2)]  # fmt: skip


@pytest.mark.parametrize(("fmt", "linktype", "version"), TSHARK_VARIANTS,
                         ids=[f"{f}-{lt}-v{v}" for f, lt, v in TSHARK_VARIANTS])  # fmt: skip
def test_tshark_decodes_what_we_decode(
    tmp_path: Path, scene_adverts: list[object], fmt: str, linktype: int, version: int
) -> None:
    """Link type 272 once per nRF Sniffer header version: address, RSSI, AD data, CRC status."""
    tshark = _tool("tshark")
    path = tmp_path / f"scene.{fmt}"
    write_capture(path, scene_adverts, fmt, linktype=linktype, nordic_version=version)  # type: ignore[arg-type]
    fields = ["btle.advertising_address", "bthci_evt.bd_addr", "btle_rf.signal_dbm",
              "bthci_evt.rssi", "nordic_ble.rssi", "btcommon.eir_ad.entry.company_id",
              "btcommon.eir_ad.entry.uuid_16", "btcommon.eir_ad.entry.custom_uuid_128",
              "btcommon.eir_ad.entry.data", "nordic_ble.crcok", "nordic_ble.protover",
              "_ws.expert.message"]  # fmt: skip
    cmd = [tshark, "-r", str(path), "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
           "-E", "aggregator=,"] + [a for f in fields for a in ("-e", f)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    lines = res.stdout.splitlines()
    ours = _ours(path)
    assert len(lines) == len(ours) > 100
    for line, (address, rssi, companies, u16, u128, mfr) in zip(lines, ours, strict=True):
        (le_addr, hci_addr, sig, hci_rssi, nrf_rssi, comp, uu16, uu128, data, crcok, protover,
         expert) = line.split("|")  # fmt: skip
        assert (le_addr or hci_addr) == address
        their_rssi = sig or hci_rssi or nrf_rssi
        assert (int(their_rssi) if their_rssi and their_rssi != "127" else None) == rssi
        assert _ints(comp) == companies
        assert _ints(uu16) == u16
        assert [u for u in uu128.split(",") if u] == u128
        # Manufacturer payloads (tshark: "data" of the manufacturer-specific AD entries).
        assert all(m.hex() in data.split(",") for m in mfr if m)
        assert "CRC" not in expert  # tshark recomputes the CRC-24 for link type 251
        if linktype == 272:
            assert crcok in ("1", "True") and int(protover or 0) == version


def test_tshark_reads_the_nrf_crc_flag_we_drop_by(tmp_path: Path) -> None:
    """nRF Sniffer frames flagged "CRC: Incorrect" are the ones we drop, at the same times."""
    from tests.replay.bitflip import choose, packets, write_flipped

    tshark = _tool("tshark")
    pkts = packets(ads.scene(seconds=60).adverts)
    corrupt = choose(len(pkts), 0.12)
    path = tmp_path / "nrf.pcap"
    write_flipped(path, pkts, corrupt, linktype=272, nordic_version=2)
    cmd = [tshark, "-r", str(path), "-Y", "nordic_ble.crcok == 0", "-T", "fields", "-e",
           "frame.time_epoch"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    theirs = [float(x) for x in res.stdout.split()]
    ours = [t for b in iter_batches(path) for _i, t in b.drops]
    assert len(ours) == len(theirs) == len(corrupt)
    assert ours == pytest.approx(theirs, abs=1e-6)


def _btmon_events(text: str) -> list[Packet]:
    out: list[Packet] = []
    for block in text.split("> HCI Event: ")[1:]:
        address = re.search(r"Address: ([0-9A-F:]{17})", block)
        rssi = re.search(r"RSSI: (-?\d+) dBm", block)
        companies = [int(c) for c in re.findall(r"Company: .*\((\d+)\)", block)]
        mfr = [
            bytes.fromhex(d)
            for d in re.findall(r"Company: not assigned.*\n\s+Data: ([0-9a-f]*)", block)
        ]
        u16 = []
        lines = block.splitlines()
        for i, line in enumerate(lines):
            head = re.search(r"16-bit Service UUIDs \(\w+\): (\d+) entr", line)
            if head:
                entries = lines[i + 1 : i + 1 + int(head.group(1))]
                u16 += [int(re.findall(r"\(0x([0-9a-f]{4})\)", e)[0], 16) for e in entries]
        u16 += [int(u, 16) for u in re.findall(r"Service Data: .*\(0x([0-9a-f]{4})\)", block)]
        assert address is not None and rssi is not None
        out.append((address.group(1).lower(), int(rssi.group(1)), companies, sorted(u16), [], mfr))
    return out


@pytest.mark.parametrize("linktype", [1002, 2001])
def test_btmon_decodes_what_we_decode(
    tmp_path: Path, scene_adverts: list[object], linktype: int
) -> None:
    btmon = _tool("btmon")
    path = tmp_path / f"scene-{linktype}.btsnoop"
    write_capture(path, scene_adverts, "btsnoop", linktype=linktype)  # type: ignore[arg-type]
    res = subprocess.run([btmon, "-r", str(path)], capture_output=True, text=True, timeout=120,
                         check=True)  # fmt: skip
    theirs = _btmon_events(res.stdout)
    ours = _ours(path)
    assert len(theirs) == len(ours) > 100
    for (a1, r1, c1, u1, _, m1), (a2, r2, c2, u2, _, m2) in zip(theirs, ours, strict=True):
        assert (a1, r1, c1, u1) == (a2, r2, c2, sorted(u2))
        # btmon prints the payload of unassigned companies (0x22B5: the Bluezone rolling ID).
        assert m1 == [m for c, m in zip(c2, m2, strict=True) if c == 0x22B5 or c == 0x1234]
    ids = {m for (_, _, _, _, _, mm) in theirs for m in mm}
    assert ads.ID_SLOT23 in ids


@pytest.mark.parametrize("linktype", [256, 201])
def test_tshark_ek_output_replays_like_the_capture(
    tmp_path: Path, scene_adverts: list[object], linktype: int
) -> None:
    """`tshark -T ek -x` lines are a JSONL input: same rows as reading the pcap itself."""
    tshark = _tool("tshark")
    path = tmp_path / "scene.pcap"
    write_capture(path, scene_adverts, "pcap", linktype=linktype)  # type: ignore[arg-type]
    ek = tmp_path / "scene.jsonl"
    with ek.open("wb") as out:
        subprocess.run([tshark, "-r", str(path), "-T", "ek", "-x"], stdout=out,
                       stderr=subprocess.DEVNULL, timeout=120, check=True)  # fmt: skip
    s1, s2 = ReplayStats(), ReplayStats()
    want = [r for b in iter_batches(path, stats=s1) for r in b]
    got = [r for b in iter_batches(ek, stats=s2) for r in b]
    assert [r[1:] for r in got] == [r[1:] for r in want]
    assert [r[0] for r in got] == pytest.approx([r[0] for r in want], abs=1e-6)
    assert s2.format == "jsonl" and s2.records == s1.records and s2.skipped_corrupt == 0
    assert s2.scan_responses_merged == s1.scan_responses_merged > 0


def test_tshark_reads_a_record_like_we_do(tmp_path: Path, scene_adverts: list[object]) -> None:
    """A `bzscan --record` pcapng (HCI extended advertising reports) opens in Wireshark."""
    from scanner.ble.adparse import parse_ad
    from scanner.ble.advert import Advert
    from scanner.sources.replay.record import Recorder

    tshark = _tool("tshark")
    path = tmp_path / "visit.pcapng"
    with Recorder(path) as rec:
        for a in scene_adverts:
            f = parse_ad(a.adv, a.scan_rsp)  # type: ignore[attr-defined]
            rec.write(Advert(a.t, a.address, a.rssi_dbm, f.local_name, f.manufacturer_data,  # type: ignore[attr-defined]
                             f.service_data, f.service_uuids, f.tx_power))  # fmt: skip
    fields = ["bthci_evt.bd_addr", "bthci_evt.rssi", "btcommon.eir_ad.entry.company_id",
              "_ws.malformed", "frame.time_epoch"]  # fmt: skip
    cmd = [tshark, "-r", str(path), "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
           "-E", "aggregator=,"] + [a for f in fields for a in ("-e", f)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    lines = res.stdout.splitlines()
    ours = [r for b in iter_batches(path) for r in b]
    assert len(lines) == len(ours) == rec.adverts > 100
    for line, (t, address, rssi, adv, _rsp, _pdu) in zip(lines, ours, strict=True):
        addr, their_rssi, comp, malformed, epoch = line.split("|")
        assert (addr, int(their_rssi), malformed) == (address.lower(), rssi, "")
        assert _ints(comp) == [c for ad_type, d in iter_ad(adv) if ad_type == 0xFF
                               for c in [d[0] | d[1] << 8]]  # fmt: skip
        assert float(epoch) == pytest.approx(t, abs=1e-6)
