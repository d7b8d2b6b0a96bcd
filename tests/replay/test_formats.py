"""Every capture format and link type round-trips through the writers and the reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.ble.advert import PduKind, RawAdvert
from scanner.sources.replay.reader import (
    ReplayError,
    ReplayStats,
    detect_format,
    iter_batches,
    read_capture,
)
from scanner.sources.replay.write import SCAN_RSP_DELAY_S, CaptureWriter, write_capture
from tests.replay import ads

# (format, link type, writer options)
VARIANTS = [
    ("pcap", 251, {}),
    ("pcap", 256, {}),
    ("pcap", 201, {}),
    ("pcap", 256, {"nanosecond": True}),
    ("pcap", 256, {"byte_order": ">"}),
    ("pcap", 251, {"nanosecond": True, "byte_order": ">"}),
    ("pcapng", 251, {}),
    ("pcapng", 256, {}),
    ("pcapng", 201, {"nanosecond": True}),
    ("pcapng", 256, {"byte_order": ">"}),
    ("btsnoop", 1002, {}),
    ("btsnoop", 2001, {}),
    ("jsonl", None, {}),
]
IDS = [f"{f}-{lt}-{'-'.join(f'{k}{v}' for k, v in o.items())}" for f, lt, o in VARIANTS]

SAMPLE = [
    RawAdvert(ads.ROTATION + 0.25, "C4:7C:8D:6A:22:01", -70, ads.bz_android(ads.ID_SLOT23),
              None, PduKind.ADV_IND),
    RawAdvert(ads.ROTATION + 1.5, "66:EC:0E:84:4F:6E", -60, ads.nearby_info(), ads.overflow_area(),
              PduKind.ADV_IND),
    RawAdvert(ads.ROTATION + 2.0, "11:22:33:44:55:66", None, ads.gaen(bytes(range(16))), None,
              PduKind.ADV_NONCONN_IND),
    RawAdvert(ads.ROTATION + 2.5, "D0:00:00:00:00:09", -80, ads.ms_cdp(), b"",
              PduKind.ADV_SCAN_IND),
]  # fmt: skip


def _expected(fmt: str, linktype: int | None) -> list[tuple[object, ...]]:
    """What a host sees: each advert, then the advert again with its scan response merged."""
    out: list[tuple[object, ...]] = []
    for a in SAMPLE:
        rssi = None if linktype == 251 else a.rssi_dbm
        if fmt == "jsonl":
            out.append((a.t, a.address, a.rssi_dbm, a.adv, a.scan_rsp, a.pdu))
            continue
        out.append((a.t, a.address, rssi, a.adv, None, a.pdu))
        if a.scan_rsp is not None:
            out.append((a.t + SCAN_RSP_DELAY_S, a.address, rssi, a.adv, a.scan_rsp, a.pdu))
    return out


@pytest.mark.parametrize(("fmt", "linktype", "opts"), VARIANTS, ids=IDS)
def test_round_trip(
    tmp_path: Path, fmt: str, linktype: int | None, opts: dict[str, object]
) -> None:
    path = tmp_path / f"cap.{fmt}"
    write_capture(path, SAMPLE, fmt, linktype=linktype, **opts)  # type: ignore[arg-type]
    assert detect_format(path) == fmt
    stats = ReplayStats()
    got = [
        (a.t, a.address, a.rssi_dbm, a.adv, a.scan_rsp, a.pdu)
        for a in read_capture(path, stats=stats)
    ]
    want = _expected(fmt, linktype)
    assert [g[1:] for g in got] == [w[1:] for w in want]
    assert [g[0] for g in got] == pytest.approx([w[0] for w in want], abs=1e-6)
    assert stats.format == fmt
    assert stats.linktype == linktype
    assert stats.adverts == len(want)
    assert (stats.skipped_corrupt, stats.crc_failed, stats.truncated) == (0, 0, False)
    if fmt != "jsonl":
        assert stats.scan_responses_merged == 2  # the iOS overflow area and the empty response
        assert stats.records == 6 + (1 if linktype == 2001 else 0)  # + the monitor's new index
        assert stats.non_advert == (1 if linktype == 2001 else 0)


def test_fast_and_general_pcap_paths_agree(tmp_path: Path) -> None:
    sc = ads.scene()
    for lt in (251, 256):
        path = tmp_path / f"s{lt}.pcap"
        write_capture(path, sc.adverts, "pcap", linktype=lt)
        s1, s2 = ReplayStats(), ReplayStats()
        fast = [r for b in iter_batches(path, stats=s1, batch=100) for r in b]
        slow = [r for b in iter_batches(path, stats=s2, fast=False) for r in b]
        assert fast == slow
        assert s1 == s2
        assert s1.scan_responses_merged == sc.scan_responses
        assert len(fast) == len(sc.adverts) + sc.scan_responses


def test_scan_response_merge_rules(tmp_path: Path) -> None:
    path = tmp_path / "rsp.pcap"
    t = 1_600_000_000.0
    a, b = "C0:00:00:00:00:01", "C0:00:00:00:00:02"
    with CaptureWriter(path, "pcap", linktype=256) as w:
        w.write(RawAdvert(t, a, -50, b"\x02\x01\x06", None, PduKind.ADV_IND))
        # A response from another address does not merge; one 2 s late does not either.
        w.write(RawAdvert(t + 0.1, b, -51, b"\x02\x0a\x00", None, PduKind.SCAN_RSP))
        w.write(RawAdvert(t + 0.5, a, -52, b"\x03\x09hi", None, PduKind.SCAN_RSP))
        w.write(RawAdvert(t + 2.6, a, -53, b"\x03\x09yo", None, PduKind.SCAN_RSP))
    stats = ReplayStats()
    got = list(read_capture(path, stats=stats))
    assert [(g.address, g.adv, g.scan_rsp, g.pdu) for g in got] == [
        (a, b"\x02\x01\x06", None, PduKind.ADV_IND),
        (b, b"", b"\x02\x0a\x00", PduKind.SCAN_RSP),
        (a, b"\x02\x01\x06", b"\x03\x09hi", PduKind.ADV_IND),
        (a, b"", b"\x03\x09yo", PduKind.SCAN_RSP),
    ]
    assert got[2].rssi_dbm == -52 and got[2].t == pytest.approx(t + 0.5)
    assert (stats.scan_responses_merged, stats.orphan_scan_responses) == (1, 2)


def test_crc_failed_frames_are_dropped_and_counted(tmp_path: Path) -> None:
    from scanner.sources.replay.write import le_phdr, ll_packet

    path = tmp_path / "crc.pcap"
    good = RawAdvert(
        1_600_000_000.0, "C0:00:00:00:00:01", -50, ads.unknown_mfr(), None, PduKind.ADV_IND
    )
    with CaptureWriter(path, "pcap", linktype=256) as w:
        w.write(good)
        pkt = ll_packet(
            PduKind.ADV_IND, "C0:00:00:00:00:02", ads.nearby_info(), address_type="random"
        )
        w.write_frame(good.t + 1, le_phdr(37, -40, crc_valid=False) + pkt)
        w.write(RawAdvert(good.t + 2, "C0:00:00:00:00:03", -51, ads.ms_cdp()))
    stats = ReplayStats()
    got = list(read_capture(path, stats=stats))
    assert [g.address for g in got] == ["C0:00:00:00:00:01", "C0:00:00:00:00:03"]
    assert stats.crc_failed == 1 and stats.skipped_corrupt == 0


def test_non_advert_frames_are_counted_not_yielded(tmp_path: Path) -> None:
    from scanner.sources.replay.write import le_phdr

    path = tmp_path / "data.pcap"
    t = 1_600_000_000.0
    with CaptureWriter(path, "pcap", linktype=256) as w:
        w.write(RawAdvert(t, "C0:00:00:00:00:01", -50, ads.unknown_mfr()))
        # A data-channel packet (other access address) and a SCAN_REQ (PDU type 3).
        w.write_frame(t + 1, le_phdr(37, -40) + bytes.fromhex("11223344010000") + bytes(3))
        scan_req = bytes.fromhex("d6be898e") + bytes([0x43, 12]) + bytes(12)
        w.write_frame(t + 2, le_phdr(37, -40) + scan_req + bytes(3))
    stats = ReplayStats()
    assert len(list(read_capture(path, stats=stats))) == 1
    assert (stats.records, stats.non_advert, stats.skipped_corrupt) == (3, 2, 0)


def test_hci_extended_and_multi_reports(tmp_path: Path) -> None:
    """btsnoop 1002 with one legacy event carrying two reports and one extended report."""
    path = tmp_path / "ext.btsnoop"
    from scanner.sources.replay.formats import address_bytes

    a1, a2 = address_bytes("00:00:C0:00:00:01"), address_bytes("01:00:00:C0:00:00")
    r1 = bytes([0, 1]) + a1 + bytes([3]) + b"\x02\x01\x06" + bytes([0xC4])
    r2 = bytes([3, 1]) + a2 + bytes([0]) + bytes([0x7F])  # RSSI 127: unavailable
    legacy = bytes([0x3E, 2 + len(r1) + len(r2), 0x02, 2]) + r1 + r2
    data = ads.gaen(bytes(16))
    ext = (
        bytes([0x10, 0x00, 1]) + a1 + bytes([1, 0, 0xFF, 0x7F, 0xBE, 0, 0, 0]) + bytes(6)
        + bytes([len(data)]) + data
    )  # fmt: skip
    ext_evt = bytes([0x3E, 2 + len(ext), 0x0D, 1]) + ext
    with CaptureWriter(path, "btsnoop", linktype=1002) as w:
        w.write_frame(1_600_000_000.0, b"\x04" + legacy)
        w.write_frame(1_600_000_001.0, b"\x04" + ext_evt)
        w.write_frame(1_600_000_002.0, b"\x04\x0e\x04\x01\x0c\x20\x00")  # command complete
    stats = ReplayStats()
    got = list(read_capture(path, stats=stats))
    assert [(g.address, g.rssi_dbm, g.adv, g.pdu) for g in got] == [
        ("00:00:C0:00:00:01", -60, b"\x02\x01\x06", PduKind.ADV_IND),
        ("01:00:00:C0:00:00", None, b"", PduKind.ADV_NONCONN_IND),
        ("00:00:C0:00:00:01", -66, data, PduKind.ADV_NONCONN_IND),
    ]
    assert (stats.records, stats.non_advert) == (3, 1)


@pytest.mark.parametrize("content", [b"", b"hello world", b"\x00" * 64, b"GIF89a"])
def test_unknown_files_raise_replay_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(ReplayError):
        read_capture(path)


def test_unsupported_link_type_and_missing_file_raise(tmp_path: Path) -> None:
    import struct

    eth = tmp_path / "eth.pcap"
    eth.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    with pytest.raises(ReplayError, match="link type 1"):
        read_capture(eth)
    with pytest.raises(ReplayError):
        read_capture(tmp_path / "missing.pcap")
    assert issubclass(ReplayError, OSError)  # the CLI reports OSErrors as "cannot read FILE"


def test_pcapng_interfaces_resolutions_unknown_blocks_and_spb(tmp_path: Path) -> None:
    """Two interfaces (LL with PHDR in ns, HCI H4 in us), a custom block, an SPB, a 2nd section."""
    import struct

    from scanner.ble.advert import PduKind as K
    from scanner.sources.replay.write import hci_adv_report, le_phdr, ll_packet

    def block(btype: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    def epb(ifid: int, ticks: int, frame: bytes) -> bytes:
        head = struct.pack("<IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
        return block(6, head + frame)

    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    tsresol_ns = struct.pack("<HHB3xHH", 9, 1, 9, 0, 0)
    idb_ll = block(1, struct.pack("<HHI", 256, 0, 0) + tsresol_ns)
    idb_hci = block(1, struct.pack("<HHI", 201, 0, 0))
    t = 1_600_000_000
    ll = le_phdr(38, -42) + ll_packet(K.ADV_IND, "C0:00:00:00:00:01", ads.ms_cdp(),
                                      address_type="random")  # fmt: skip
    hci = (
        struct.pack(">I", 1)
        + b"\x04"
        + hci_adv_report(
            K.ADV_NONCONN_IND, "C0:00:00:00:00:02", ads.gaen(bytes(16)), -77, address_type="public"
        )
    )
    custom = block(0x00000BAD, b"vendor data")
    spb = block(3, struct.pack("<I", len(ll)) + ll)  # no time stamp: keeps the previous one
    data = (shb + idb_ll + idb_hci + epb(0, t * 10**9 + 5, ll) + custom + epb(1, t * 10**6 + 2, hci)
            + spb + shb + idb_hci + epb(0, (t + 9) * 10**6, hci))  # fmt: skip
    path = tmp_path / "multi.pcapng"
    path.write_bytes(data)
    stats = ReplayStats()
    got = [(a.t, a.address, a.rssi_dbm, a.pdu) for a in read_capture(path, stats=stats)]
    assert got == [
        (pytest.approx(t + 5e-9), "C0:00:00:00:00:01", -42, K.ADV_IND),
        (pytest.approx(t + 2e-6), "C0:00:00:00:00:02", -77, K.ADV_NONCONN_IND),
        (pytest.approx(t + 2e-6), "C0:00:00:00:00:01", -42, K.ADV_IND),
        (pytest.approx(t + 9), "C0:00:00:00:00:02", -77, K.ADV_NONCONN_IND),
    ]
    assert (stats.records, stats.skipped_corrupt, stats.non_advert) == (4, 0, 0)
