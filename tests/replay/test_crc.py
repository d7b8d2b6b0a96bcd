"""CRC-24 verification: bit errors never become devices; the count of drops matches tshark's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.ble.advert import PduKind
from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.sources.replay.crc import CrcCheck, ble_crc24, crc24, crc24_table, register_init
from scanner.sources.replay.encode import ll_packet
from scanner.sources.replay.frames import CORRUPT, CRC_FAILED, decode_ll
from scanner.sources.replay.reader import ReplayStats, iter_batches, replay_into
from scanner.sources.replay.write import CaptureWriter
from scanner.wire.schema import WindowReport
from tests.replay import ads
from tests.replay.bitflip import WHERE, choose, packets, write_flipped

# A share like the public HackRF captures' (831 of 6,614 advertising frames failed their CRC).
SHARE = 0.12


def _counts(path: Path, classifier: Classifier) -> tuple[list[WindowReport], ReplayStats]:
    reports: list[WindowReport] = []
    pipeline = Pipeline(classifier, identity=NodeIdentity(node="n1", site="s1"),
                        sink=reports.append, window_s=60)  # fmt: skip
    stats = replay_into(path, pipeline)
    pipeline.finish(pipeline.summary.last_t)
    return reports, stats


def _table(reports: list[WindowReport]) -> list[tuple[int, object, object]]:
    return [
        (r.window_start, {c: dict(v) for c, v in r.counts.items()},
         {c: dict(v) for c, v in r.slot_counts.items()})
        for r in reports
    ]  # fmt: skip


@pytest.mark.parametrize("linktype", [256, 251])
def test_bit_errors_in_adva_are_not_phantom_devices(tmp_path: Path, linktype: int) -> None:
    """Frames whose CRC the sniffer did not check: corrupted ones are dropped, not counted."""
    pkts = packets(ads.scene().adverts)
    corrupt = choose(len(pkts), SHARE)
    assert len(corrupt) > 100
    flipped, clean = tmp_path / "flipped.pcap", tmp_path / "clean.pcap"
    write_flipped(flipped, pkts, corrupt, linktype=linktype)
    write_flipped(clean, pkts, corrupt, linktype=linktype, skip_corrupt=True)
    classifier = Classifier()
    got, stats = _counts(flipped, classifier)
    want, _ = _counts(clean, classifier)
    assert _table(got) == _table(want)
    assert stats.crc_failed == len(corrupt)


def _tshark_crc_incorrect(path: Path, *, malformed: bool = False) -> int:
    from tests.replay.test_crosscheck import _tool

    expr = "btle.crc.incorrect || _ws.malformed" if malformed else "btle.crc.incorrect"
    cmd = [_tool("tshark"), "-r", str(path), "-Y", expr, "-T", "fields", "-e", "frame.number"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return len(res.stdout.split())


SNIFFERS = [("pcap", 251, 3), ("pcap", 256, 3), ("pcapng", 256, 3), ("pcap", 272, 0),
            ("pcap", 272, 1), ("pcap", 272, 2), ("pcap", 272, 3), ("pcapng", 272, 3)]  # fmt: skip


@pytest.mark.parametrize(("fmt", "linktype", "version"), SNIFFERS,
                         ids=[f"{f}-{lt}-v{v}" for f, lt, v in SNIFFERS])  # fmt: skip
def test_drops_equal_tshark_incorrect_crc_and_windows_equal_clean(
    tmp_path: Path, fmt: str, linktype: int, version: int
) -> None:
    pkts = packets(ads.scene(seconds=120).adverts)
    corrupt = choose(len(pkts), SHARE, seed=linktype + version)
    assert {w for w in corrupt.values()} == set(WHERE)
    flipped, clean = tmp_path / f"flipped.{fmt}", tmp_path / f"clean.{fmt}"
    opts = {"fmt": fmt, "linktype": linktype, "nordic_version": version}
    write_flipped(flipped, pkts, corrupt, **opts)  # type: ignore[arg-type]
    write_flipped(clean, pkts, corrupt, skip_corrupt=True, **opts)  # type: ignore[arg-type]
    theirs = _tshark_crc_incorrect(flipped)
    classifier = Classifier()
    got, stats = _counts(flipped, classifier)
    want, _ = _counts(clean, classifier)
    assert stats.crc_failed == theirs == len(corrupt)
    assert _table(got) == _table(want)
    # Each window's health says how many frames it lost, at their own time.
    lost = [sum(1 for i in corrupt if r.window_start <= pkts[i].t < r.window_end) for r in got]
    assert [r.health.crc_failed for r in got] == lost
    assert sum(lost) == len(corrupt)
    assert stats.crc_verified == (0 if linktype == 272 else len(pkts) - len(corrupt))


def test_a_flipped_ad_length_is_dropped_where_tshark_calls_it_malformed(tmp_path: Path) -> None:
    """tshark checks the CRC after the AD structures: a broken AD length never gets there."""
    pkts = packets(ads.scene(seconds=60).adverts)
    corrupt = choose(len(pkts), SHARE, where=("ad_length", "adva"))
    path = tmp_path / "flipped.pcap"
    write_flipped(path, pkts, corrupt, linktype=256)
    _reports, stats = _counts(path, Classifier())
    assert _tshark_crc_incorrect(path) < len(corrupt)
    assert stats.crc_failed == _tshark_crc_incorrect(path, malformed=True) == len(corrupt)


@pytest.mark.parametrize("linktype", [251, 256])
def test_fast_and_general_paths_agree_on_flipped_captures(tmp_path: Path, linktype: int) -> None:
    pkts = packets(ads.scene(seconds=60).adverts)
    path = tmp_path / "flipped.pcap"
    write_flipped(path, pkts, choose(len(pkts), 0.3), linktype=linktype)
    s1, s2 = ReplayStats(), ReplayStats()
    fast = [(r, b.drops) for b in iter_batches(path, stats=s1, batch=64) for r in [list(b)]]
    slow = [(r, b.drops) for b in iter_batches(path, stats=s2, batch=64, fast=False)
            for r in [list(b)]]  # fmt: skip
    assert [x for r, _ in fast for x in r] == [x for r, _ in slow for x in r]
    assert [d[1] for _, ds in fast for d in ds] == [d[1] for _, ds in slow for d in ds]
    assert (s1.crc_failed, s1.crc_verified, s1.rssi_missing) == (
        s2.crc_failed, s2.crc_verified, s2.rssi_missing)  # fmt: skip


_ADV_KINDS = [PduKind.ADV_IND, PduKind.ADV_NONCONN_IND, PduKind.ADV_SCAN_IND, PduKind.SCAN_RSP,
              PduKind.ADV_DIRECT_IND]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(_ADV_KINDS),
    adva=st.binary(min_size=6, max_size=6),
    data=st.binary(max_size=31),
    random_type=st.booleans(),
    pick=st.data(),
)
def test_any_single_bit_flip_in_a_valid_advertising_pdu_is_detected(
    kind: PduKind, adva: bytes, data: bytes, random_type: bool, pick: st.DataObject
) -> None:
    address = adva.hex(":").upper()
    ll = ll_packet(kind, address, data, address_type="random" if random_type else "public")
    assert decode_ll(ll, 0, len(ll), False, CrcCheck()) not in (CRC_FAILED, CORRUPT)
    bit = pick.draw(st.integers(0, (len(ll) - 4) * 8 - 1), label="bit")
    flipped = bytearray(ll)
    flipped[4 + bit // 8] ^= 1 << bit % 8
    # The PDU header, AdvA, AD data and the CRC itself: the CRC-24 catches every single flip.
    assert not CrcCheck().ok(bytes(flipped[4:]))
    got = decode_ll(bytes(flipped), 0, len(flipped), False, CrcCheck())
    # A flipped length bit that runs the PDU past the frame is caught before the CRC.
    assert got == CRC_FAILED or (bit // 8 == 1 and got == CORRUPT)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_the_c_crc_and_the_table_agree(data: bytes) -> None:
    assert crc24(data) == crc24_table(data)
    assert crc24_table(data + ble_crc24(data)) == 0


def test_crc_matches_the_spec_check_value_and_tshark_accepts_it() -> None:
    # CRC-24/BLE catalogue check value ("123456789", preset 0x555555, reflected): 0xC25A56.
    assert crc24_table(b"123456789") == 0xC25A56
    assert register_init(0x555555) == 0xAAAAAA


def test_a_sniffer_that_strips_the_crc_is_accepted_with_one_warning(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli.main import main

    pkts = packets(ads.scene(seconds=60).adverts)
    path = tmp_path / "nocrc.pcap"
    with CaptureWriter(path, "pcap", linktype=251) as w:
        for p in pkts:
            w.write_frame(p.t, ll_packet(p.kind, p.address, p.data, address_type="random")[:-3])
    stats = ReplayStats()
    rows = [r for b in iter_batches(path, stats=stats) for r in b]
    assert len(rows) == stats.adverts > 300
    assert (stats.crc_absent, stats.crc_failed, stats.crc_verified) == (len(pkts), 0, 0)
    r = CliRunner().invoke(main, ["--replay", str(path), "--node", "n1", "--site", "s1"])
    assert r.exit_code == 0, r.output
    warnings = [line for line in r.stderr.splitlines() if "integrity cannot be checked" in line]
    assert len(warnings) == 1 and f"{len(pkts)} frames without CRC" in warnings[0]


def test_a_capture_without_rssi_says_so_at_start_in_the_summary_and_in_every_window(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from scanner.cli.main import main
    from scanner.wire.codec import decode

    pkts = packets(ads.scene(seconds=120).adverts)
    path = tmp_path / "hackrf.pcap"
    write_flipped(path, pkts, choose(len(pkts), SHARE), linktype=256)  # no RSSI, CRC unchecked
    args = ["--replay", str(path), "--json", "--node", "n1", "--site", "s1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    err = r.stderr.splitlines()
    assert "on-site RSSI gate cannot apply" in err[0]  # before the first window closes
    assert sum("on-site RSSI gate" in line for line in err) == 2  # at start, in the summary
    assert any(line.startswith("bzscan: no RSSI in ") for line in err)
    reports = [decode(line.encode()) for line in r.stdout.splitlines()]
    assert len(reports) == 2
    assert all(not x.health.rssi_available and x.health.crc_failed > 0 for x in reports)
    assert '"rssi_available":false' in r.stdout.splitlines()[0]
    # With RSSI (nRF Sniffer), nothing is said and the health fields stay off the wire.
    nrf = tmp_path / "nrf.pcap"
    write_flipped(nrf, pkts, {}, linktype=272)
    r = CliRunner().invoke(main, ["--replay", str(nrf), "--json", "--node", "n1", "--site", "s1"])
    assert "no RSSI" not in r.stderr and "rssi_available" not in r.stdout
    assert "crc_failed" not in r.stdout


@pytest.mark.parametrize("realtime", [False, True])
async def test_bzscan_replay_puts_each_drop_in_its_own_window(
    tmp_path: Path, realtime: bool
) -> None:
    """Drops on both sides of a window boundary, in one batch: each counts where it happened."""
    from scanner.node.run_replay import RunOptions, build_pipeline, replay_file

    adverts = ads.scene(t0=ads.ROTATION - 1, seconds=2).adverts
    pkts = packets(adverts)
    corrupt = {i: WHERE[i % 3] for i in range(0, len(pkts), 2)}
    path = tmp_path / "edge.pcap"
    write_flipped(path, pkts, corrupt, linktype=256)
    reports: list[WindowReport] = []
    opts = RunOptions(node="n1", site="s1", replay=path, realtime=realtime, progress=False)
    pipeline = build_pipeline(opts, [reports.append], mode="replay")
    result = await replay_file(pipeline, path, opts)
    before = sum(1 for i in corrupt if pkts[i].t < ads.ROTATION)
    assert 0 < before < len(corrupt)
    assert [r.health.crc_failed for r in reports] == [before, len(corrupt) - before]
    assert result.stats.crc_failed == result.summary.crc_failed == len(corrupt)
