"""Truncated files and corrupt records: good records kept, bad ones counted, nothing raises."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.ble.advert import PduKind, RawAdvert
from scanner.sources.replay.reader import ReplayError, ReplayStats, iter_batches, read_capture
from scanner.sources.replay.write import CaptureWriter, write_capture
from tests.replay import ads

T0 = 1_600_000_000.0
FORMATS = [("pcap", 251), ("pcap", 256), ("pcap", 201), ("pcap", 272), ("pcapng", 256),
           ("pcapng", 201), ("pcapng", 272), ("btsnoop", 1002), ("btsnoop", 2001)]  # fmt: skip
FMT_IDS = [f"{f}-{lt}" for f, lt in FORMATS]


def _adverts(n: int) -> list[RawAdvert]:
    payloads = [ads.nearby_info(), ads.gaen(bytes(range(16))), ads.bz_android(ads.ID_SLOT23)]
    return [
        RawAdvert(T0 + i, ads.addr(i), -50 - i, payloads[i % 3], None, PduKind.ADV_IND)
        for i in range(n)
    ]


def _read(path: Path) -> tuple[list[str], ReplayStats]:
    stats = ReplayStats()
    return [a.address for a in read_capture(path, stats=stats)], stats


@pytest.mark.parametrize(("fmt", "linktype"), FORMATS, ids=FMT_IDS)
def test_truncated_at_every_offset_keeps_whole_records(
    tmp_path: Path, fmt: str, linktype: int
) -> None:
    adverts = _adverts(4)
    # File sizes with the first k adverts: the record boundaries.
    sizes = []
    for k in range(len(adverts) + 1):
        p = tmp_path / f"k{k}.{fmt}"
        write_capture(p, adverts[:k], fmt, linktype=linktype)  # type: ignore[arg-type]
        sizes.append(p.stat().st_size)
    data = (tmp_path / f"k{len(adverts)}.{fmt}").read_bytes()
    # Block boundaries that carry no advert: the pcapng SHB end, the monitor's "new index".
    boundaries = set(sizes) | {28 if fmt == "pcapng" else 56 if linktype == 2001 else 0}
    full = [a.address for a in adverts]
    cut = tmp_path / f"cut.{fmt}"
    for size in range(1, len(data)):
        cut.write_bytes(data[:size])
        try:
            got, stats = _read(cut)
        except ReplayError:
            assert size < (8 if fmt == "btsnoop" else 4)  # too short to recognise at all
            continue
        whole = max((k for k, s in enumerate(sizes) if s <= size), default=0)
        # Every whole record survives, nothing is invented, and a cut is reported.
        assert got == full[:whole], size
        assert stats.truncated == (size not in boundaries), size
        if stats.truncated and size > sizes[0]:
            assert stats.skipped_corrupt == 1, size  # the partial record


@pytest.mark.parametrize(("fmt", "linktype"), FORMATS, ids=FMT_IDS)
def test_corrupt_record_header_in_the_middle_resyncs(
    tmp_path: Path, fmt: str, linktype: int
) -> None:
    """Garbage bytes between records (a bad write, a glitch): everything around them survives."""
    adverts = _adverts(10)
    good = tmp_path / f"good.{fmt}"
    write_capture(good, adverts[:5], fmt, linktype=linktype)  # type: ignore[arg-type]
    rest = tmp_path / f"rest.{fmt}"
    write_capture(rest, adverts[5:], fmt, linktype=linktype)  # type: ignore[arg-type]
    head_len = {"pcap": 24, "pcapng": 28 + 20, "btsnoop": 16}[fmt]
    tail = rest.read_bytes()[head_len:]
    if fmt == "btsnoop" and linktype == 2001:
        tail = tail[24 + 16 :]  # drop the second file's "new index" record
    garbage = b"\xff\xee\xdd\xcc" * 7 + b"\x01\x02\x03"
    bad = tmp_path / f"bad.{fmt}"
    bad.write_bytes(good.read_bytes() + garbage + tail)
    got, stats = _read(bad)
    assert got == [a.address for a in adverts]
    assert stats.skipped_corrupt >= 1
    assert not stats.truncated


def test_corrupt_frame_contents_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    with CaptureWriter(path, "pcap", linktype=256) as w:
        w.write(RawAdvert(T0, ads.addr(1), -50, ads.nearby_info()))
        # PDU length larger than the frame; a frame too short for a PHDR.
        w.write_frame(T0 + 1, bytes(10) + bytes.fromhex("d6be898e") + bytes([0x40, 200]) + bytes(8))
        w.write_frame(T0 + 2, b"\x01\x02")
        w.write(RawAdvert(T0 + 3, ads.addr(2), -50, ads.ms_cdp()))
    got, stats = _read(path)
    assert got == [ads.addr(1), ads.addr(2)]
    assert (stats.records, stats.skipped_corrupt) == (4, 2)


def test_pcap_record_longer_than_the_file_is_truncation(tmp_path: Path) -> None:
    path = tmp_path / "t.pcap"
    write_capture(path, _adverts(3), "pcap", linktype=256)
    data = bytearray(path.read_bytes())
    # Claim the last record is huge: the first two survive, the file is reported truncated.
    last = len(data) - (16 + 10 + 4 + 2 + 6 + len(ads.bz_android(ads.ID_SLOT23)) + 3)
    struct.pack_into("<II", data, last + 8, 60000, 60000)
    path.write_bytes(bytes(data))
    got, stats = _read(path)
    assert got == [ads.addr(0), ads.addr(1)]
    assert stats.truncated and stats.skipped_corrupt == 1


_VALID: dict[str, bytes] = {}
MAGICS = [b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a",
          b"btsnoop\x00", b"{"]  # fmt: skip


def _valid(fmt: str, linktype: int, tmp: Path) -> bytes:
    key = f"{fmt}{linktype}"
    if key not in _VALID:
        path = tmp / f"v{key}"
        adverts = _adverts(3)
        adverts[1] = RawAdvert(T0 + 1, ads.addr(1), -60, ads.nearby_info(), ads.overflow_area())
        write_capture(path, adverts, fmt, linktype=linktype)  # type: ignore[arg-type]
        _VALID[key] = path.read_bytes()
    return _VALID[key]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.sampled_from([*FORMATS, ("jsonl", 0)]),
    edits=st.lists(st.tuples(st.integers(0, 400), st.binary(min_size=1, max_size=8)), max_size=6),
    tail=st.binary(max_size=64),
)
def test_readers_never_raise_on_damaged_files(
    tmp_path: Path, which: tuple[str, int], edits: list[tuple[int, bytes]], tail: bytes
) -> None:
    fmt, linktype = which
    if fmt == "jsonl":
        data = bytearray(b'{"t": 1, "address": "C0:00:00:00:00:01", "adv": "0201"}\n' * 3)
    else:
        data = bytearray(_valid(fmt, linktype, tmp_path))
    for pos, blob in edits:
        # Keep the magic so the file is still recognised: the record layer is what is fuzzed.
        pos = 4 + pos % max(1, len(data) - 4)
        data[pos : pos + len(blob)] = blob
    path = tmp_path / f"fz.{fmt}"
    path.write_bytes(bytes(data) + tail)
    stats = ReplayStats()
    try:
        rows = [r for b in iter_batches(path, stats=stats) for r in b]
    except ReplayError:
        return  # e.g. a fuzzed header naming an unsupported link type: a clear error is fine
    assert stats.adverts == len(rows)
    for t, address, rssi, adv, rsp, _kind in rows:
        assert isinstance(t, float) and len(address) == 17
        assert rssi is None or -128 <= rssi <= 127
        assert isinstance(adv, bytes) and (rsp is None or isinstance(rsp, bytes))


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    magic=st.sampled_from(MAGICS),
    body=st.binary(max_size=300),
)
def test_arbitrary_bytes_after_a_magic_never_raise_anything_else(
    tmp_path: Path, magic: bytes, body: bytes
) -> None:
    path = tmp_path / "any.bin"
    path.write_bytes(magic + body)
    try:
        for _ in read_capture(path):
            pass
    except ReplayError:
        pass


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(max_size=80), phdr=st.booleans())
def test_frame_decoders_never_raise(frame: bytes, phdr: bool) -> None:
    from scanner.sources.replay.crc import CrcCheck
    from scanner.sources.replay.frames import decode_hci_event, decode_hci_h4, decode_ll
    from scanner.sources.replay.nordic import decode_nordic

    for decoded in (
        decode_ll(frame, 0, len(frame), phdr, CrcCheck()),
        decode_ll(frame, 0, len(frame), phdr, None),
        decode_nordic(frame, 0, len(frame)),
        decode_hci_h4(frame, 0, len(frame)),
        decode_hci_event(frame, 0, len(frame)),
        decode_hci_event(b"\x3e" + bytes([len(frame) + 1, 0x02]) + frame, 0, len(frame) + 3),
        decode_hci_event(b"\x3e" + bytes([len(frame) + 1, 0x0D]) + frame, 0, len(frame) + 3),
    ):
        reports = decoded if isinstance(decoded, list) else [decoded]
        for r in reports:
            if isinstance(r, int):
                continue
            _kind, address, rssi, data = r
            assert len(address) == 17 and isinstance(data, bytes)
            assert rssi is None or -128 <= rssi <= 127
