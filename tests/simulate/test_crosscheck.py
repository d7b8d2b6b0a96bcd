"""Simulated captures decode with tshark (pcap, link type 256) and btmon (btsnoop).

Independent decoders must see, packet for packet, the addresses, RSSI, company ids, 16-bit and
128-bit UUIDs the simulator put on the air (its own reports, each scan response a second packet),
a valid CRC-24, and the Bluezone rolling IDs of protocol.md §2.9 under company 0x22B5.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.ble.adparse import iter_ad
from scanner.simulator.capture import SimResult
from tests.conftest import IN_CI
from tests.simulate.helpers import sim, write

_BZ_DATA = r"Company: not assigned \(8885\)\n\s+Data: ([0-9a-f]{24})\n"
Packet = tuple[str, int, list[int], list[int], list[str]]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            package = "bluez" if name == "btmon" else "tshark"
            pytest.fail(f"{name} is required in CI (Debian package {package})")
        pytest.skip(f"{name} not installed")
    return path


def _expected(result: SimResult) -> tuple[list[Packet], set[bytes]]:
    out: list[Packet] = []
    bz_ids: set[bytes] = set()
    for _t, address, rssi, adv, rsp, _pdu, _tags in result.reports:
        for data in (adv, rsp):
            if data is None:
                continue
            companies, u16, u128 = [], [], []
            for ad_type, d in iter_ad(data):
                if ad_type == 0xFF:
                    companies.append(d[0] | d[1] << 8)
                    if companies[-1] == 0x22B5 and len(d) == 14:
                        bz_ids.add(d[2:])
                elif ad_type == 0x03:
                    u16 += [d[i] | d[i + 1] << 8 for i in range(0, len(d), 2)]
                elif ad_type == 0x16:
                    u16.append(d[0] | d[1] << 8)
                elif ad_type == 0x07:
                    u128 += [d[i : i + 16][::-1].hex() for i in range(0, len(d), 16)]
            out.append((address.lower(), rssi, companies, u16, u128))
    return out, bz_ids


@pytest.fixture(scope="module")
def office() -> SimResult:
    # Everyone adopts and some iPhones are in the foreground, so every Bluezone layout is on air.
    return sim(
        "office",
        21,
        2,
        adoption_android=1.0,
        adoption_ios=1.0,
        ios_share=0.5,
        ios_fg_share=0.5,
        android_doze_share=0.0,
        pcs=2,
    )


def test_tshark_decodes_simulated_pcap(tmp_path: Path, office: SimResult) -> None:
    tshark = _tool("tshark")
    path = write(office, tmp_path / "office.pcap")
    fields = [
        "btle.advertising_address",
        "btle_rf.signal_dbm",
        "btcommon.eir_ad.entry.company_id",
        "btcommon.eir_ad.entry.uuid_16",
        "btcommon.eir_ad.entry.custom_uuid_128",
        "_ws.expert.message",
    ]
    cmd = [
        tshark,
        "-r",
        str(path),
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ] + [a for f in fields for a in ("-e", f)]
    lines = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    want, _ = _expected(office)
    assert len(lines) == len(want) > 500
    kinds = set()
    for line, (address, rssi, companies, u16, u128) in zip(lines, want, strict=True):
        addr, sig, comp, uu16, uu128, expert = line.split("|")
        assert (addr, int(sig)) == (address, rssi)
        assert [int(x, 16) for x in comp.split(",") if x] == companies
        assert [int(x, 16) for x in uu16.split(",") if x] == u16
        assert [u for u in uu128.split(",") if u] == u128
        assert "CRC" not in expert
        kinds.update(companies)
        kinds.update(u128)
    # Bluezone Android (0x22B5), Apple (iPhones), Microsoft (PCs), the iOS foreground UUID.
    assert any("bluezone/ios_fg" in r[6] for r in office.reports)
    assert {0x22B5, 0x004C, 0x0006, "00004e5673f54bc4a12f17d1ad07a667"} <= kinds


def test_btmon_decodes_simulated_btsnoop(tmp_path: Path, office: SimResult) -> None:
    btmon = _tool("btmon")
    path = write(office, tmp_path / "office.btsnoop")
    text = subprocess.run(
        [btmon, "-r", str(path)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    blocks = text.split("> HCI Event: ")[1:]
    want, bz_ids = _expected(office)
    assert len(blocks) == len(want)
    seen_ids: set[bytes] = set()
    for block, (address, rssi, companies, _u16, _u128) in zip(blocks, want, strict=True):
        m_addr = re.search(r"Address: ([0-9A-F:]{17})", block)
        # btmon prints RSSI below -100 dBm as "invalid (0x99)": still the signed byte we wrote.
        m_rssi = re.search(r"RSSI: (?:(-?\d+) dBm|invalid \(0x([0-9a-f]{2})\))", block)
        assert m_addr and m_rssi
        got = int(m_rssi.group(1)) if m_rssi.group(1) else int(m_rssi.group(2), 16) - 256
        assert (m_addr.group(1).lower(), got) == (address, rssi)
        assert [int(c) for c in re.findall(r"Company: .*\((\d+)\)", block)] == companies
        seen_ids.update(bytes.fromhex(d) for d in re.findall(_BZ_DATA, block))
    assert seen_ids == bz_ids and len(bz_ids) >= 2
