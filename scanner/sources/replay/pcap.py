"""Container readers: walk pcap, pcapng and btsnoop records in one buffer, yield batches of rows.

Each `open_*` function checks the file header eagerly (raising `ReplayError` for a file it cannot
read at all) and returns a generator over batches of merged rows
(`scanner.sources.replay.merge`); what
`frame_decode` reports as not-an-advert, corrupt or CRC-failed is counted, never yielded. Record
headers that make no sense are counted as corrupt and the reader resynchronises on the next
plausible header, so one bad record never costs the rest of the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

from scanner.errors import ScannerError
from scanner.sources.replay import formats as cf
from scanner.sources.replay.crc import CrcCheck
from scanner.sources.replay.fast_pcap import pcap_ll_loop
from scanner.sources.replay.frames import (
    CRC_FAILED,
    NOT_ADVERT,
    Decoded,
    decode_hci_event,
    decode_hci_h4,
    decode_ll,
)
from scanner.sources.replay.nordic import decode_nordic

if TYPE_CHECKING:
    from scanner.sources.replay.merge import Batch, Merger

FrameDecoder = Callable[[bytes, int, int], Decoded]
Header = Callable[[int], "tuple[float, int, int, FrameDecoder] | None"]
# A fast loop for the common record shape: (buf, off) -> offset of the first record it left alone.
FastLoop = Callable[[bytes, int], int]
_MAX_RECORD: Final = 65535 + 8  # no supported link type carries frames this large
U32 = {"<": struct.Struct("<I"), ">": struct.Struct(">I")}


class ReplayError(ScannerError, OSError):
    """A file that is not a capture this reader knows, or cannot be read at all."""


def _h4_phdr(buf: bytes, off: int, end: int) -> Decoded:
    return decode_hci_h4(buf, off + 4, end)  # 4-byte direction pseudo-header first


def not_advert(buf: bytes, off: int, end: int) -> Decoded:
    return NOT_ADVERT


def frame_decoder(linktype: int, crc: CrcCheck) -> FrameDecoder | None:
    """The decoder for a pcap/pcapng link type, verifying unchecked CRCs with `crc`."""
    if linktype == cf.LINKTYPE_BLE_LL:
        return lambda buf, off, end: decode_ll(buf, off, end, False, crc)
    if linktype == cf.LINKTYPE_BLE_LL_PHDR:
        return lambda buf, off, end: decode_ll(buf, off, end, True, crc)
    if linktype == cf.LINKTYPE_NORDIC_BLE:
        return decode_nordic
    if linktype == cf.LINKTYPE_HCI_H4_PHDR:
        return _h4_phdr
    return None


def flush_crc(crc: CrcCheck, merger: Merger) -> None:
    stats = merger.stats
    stats.crc_verified += crc.verified
    stats.crc_absent += crc.absent
    crc.verified = crc.absent = 0


def _records(
    buf: bytes,
    off: int,
    merger: Merger,
    header: Header,
    fast: FastLoop | None = None,
) -> Iterator[Batch]:
    """The shared record loop, yielding batches of merged rows.

    `header(off)` gives (t, data start, next offset, decoder) or None for a bad header; `fast`,
    when given, consumes runs of ordinary records much faster and leaves the rest to this loop.
    """
    stats = merger.stats
    n = len(buf)
    records = corrupt = other = 0
    out = merger.out
    try:
        while off < n:
            if fast is not None:
                before = merger.fast_records
                off = fast(buf, off)
                if len(out) >= merger.batch:
                    stats.bytes_read = off
                    stats.records = records + merger.fast_records
                    yield merger.take()
                    out = merger.out
                if off >= n:
                    break
                if merger.fast_records != before:
                    continue  # the fast loop stopped only because its batch was full
            h = header(off)
            if h is None:
                corrupt += 1
                off = _resync(off + 1, n, header)
                if off >= n:
                    stats.truncated = True  # nothing plausible follows: the file was cut here
                continue
            t, start, nxt, decode = h
            off = nxt
            records += 1
            r = decode(buf, start, nxt)
            if isinstance(r, int):
                if r == NOT_ADVERT:
                    other += 1
                elif r == CRC_FAILED:
                    merger.drop(t)
                else:
                    corrupt += 1
            else:
                merger.add(t, r)
                if len(out) >= merger.batch:
                    stats.bytes_read = off
                    stats.records = records + merger.fast_records
                    yield merger.take()
                    out = merger.out
        if out or out.drops:
            yield merger.take()
    finally:
        stats.bytes_read = min(off, n)
        stats.records = records + merger.fast_records
        stats.skipped_corrupt += corrupt
        stats.non_advert += other
        merger.flush_stats()


def _resync(pos: int, n: int, header: Header) -> int:
    """The next offset whose header is plausible and is followed by another one (or the end)."""
    while pos < n:
        h = header(pos)
        if h is not None and (h[2] == n or header(h[2]) is not None):
            return pos
        pos += 1
    return n


def open_pcap(buf: bytes, merger: Merger, fast: bool = True) -> Iterator[Batch]:
    stats = merger.stats
    if len(buf) < 24:
        stats.truncated = True
        return iter(())
    bo = "<" if U32["<"].unpack_from(buf)[0] in (cf.PCAP_MAGIC_US, cf.PCAP_MAGIC_NS) else ">"
    magic, _maj, _min, _zone, _sig, _snaplen, linktype = struct.unpack_from(bo + "IHHiIII", buf)
    linktype &= 0x0FFFFFFF  # the upper bits carry FCS information
    crc = CrcCheck()
    decode = frame_decoder(linktype, crc)
    if decode is None:
        raise ReplayError(
            f"pcap link type {linktype} is not a Bluetooth LE capture (251/256/272/201)"
        )
    stats.linktype = linktype
    scale = 1_000_000_000 if magic == cf.PCAP_MAGIC_NS else 1_000_000
    inv = 1.0 / scale
    rec = struct.Struct(bo + "IIII").unpack_from
    n = len(buf)

    def header(off: int) -> tuple[float, int, int, FrameDecoder] | None:
        if off + 16 > n:
            return None
        sec, frac, incl, orig = rec(buf, off)
        if frac >= scale or incl > orig or orig > _MAX_RECORD or off + 16 + incl > n:
            return None
        return (sec + frac * inv, off + 16, off + 16 + incl, decode)

    loop = None
    if fast and bo == "<" and linktype in (cf.LINKTYPE_BLE_LL, cf.LINKTYPE_BLE_LL_PHDR):
        loop = pcap_ll_loop(merger, phdr=linktype == cf.LINKTYPE_BLE_LL_PHDR, scale=scale, crc=crc)
    return _with_crc(_records(buf, 24, merger, header, loop), crc, merger)


def _with_crc(batches: Iterator[Batch], crc: CrcCheck, merger: Merger) -> Iterator[Batch]:
    try:
        yield from batches
    finally:
        flush_crc(crc, merger)


def open_btsnoop(buf: bytes, merger: Merger) -> Iterator[Batch]:
    stats = merger.stats
    if len(buf) < 16:
        stats.truncated = True
        return iter(())
    _version, datalink = struct.unpack_from(">II", buf, 8)
    if datalink == cf.BTSNOOP_H4:
        decode: FrameDecoder = decode_hci_h4
    elif datalink == cf.BTSNOOP_MONITOR:
        decode = decode_hci_event
    elif datalink == 1001:
        decode = decode_hci_event  # unencapsulated HCI; only records flagged event are decoded
    else:
        raise ReplayError(f"btsnoop datalink {datalink} is not HCI (1001/1002) or monitor (2001)")
    stats.linktype = datalink
    rec = struct.Struct(">IIIIq").unpack_from
    n = len(buf)
    monitor = datalink == cf.BTSNOOP_MONITOR
    epoch = cf.BTSNOOP_EPOCH_US
    # Time stamps outside 1970..2200 mean the reader is not at a record header.
    ts_lo, ts_hi = epoch, epoch + 230 * 365 * 86_400_000_000

    def header(off: int) -> tuple[float, int, int, FrameDecoder] | None:
        if off + 24 > n:
            return None
        orig, incl, flags, _drops, ts = rec(buf, off)
        if incl > orig or orig > _MAX_RECORD or off + 24 + incl > n or not ts_lo <= ts <= ts_hi:
            return None
        t = (ts - epoch) * 1e-6
        if monitor:
            # Monitor flags are (controller index << 16) | opcode; only opcode 3 is an event.
            if flags & 0xFFFF > 64:
                return None
            return (t, off + 24, off + 24 + incl, decode if flags & 0xFFFF == 3 else not_advert)
        if flags > 3:
            return None
        if datalink == 1001 and flags != 3:
            return (t, off + 24, off + 24 + incl, not_advert)
        return (t, off + 24, off + 24 + incl, decode)

    return _records(buf, 16, merger, header)
