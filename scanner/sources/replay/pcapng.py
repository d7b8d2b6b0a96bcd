"""pcapng reader: sections, interfaces (link type and time resolution each), EPB and SPB blocks.

Unknown block types are skipped by their length; a block whose two length fields disagree is
counted as corrupt and the reader resynchronises on the next plausible block of a known type.
Both byte orders, and a new section may switch the byte order (pcapng spec, IETF draft).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from scanner.sources.replay import formats as cf
from scanner.sources.replay.crc import CrcCheck
from scanner.sources.replay.frames import CRC_FAILED, NOT_ADVERT
from scanner.sources.replay.pcap import (
    U32,
    FrameDecoder,
    ReplayError,
    flush_crc,
    frame_decoder,
    not_advert,
)

if TYPE_CHECKING:
    from scanner.sources.replay.merge import Batch, Merger


_PCAPNG_BLOCKS: Final = frozenset({1, 2, 3, 4, 5, 6, 9, 10, cf.PCAPNG_SHB})


def open_pcapng(buf: bytes, merger: Merger) -> Iterator[Batch]:
    if len(buf) < 12:
        merger.stats.truncated = True
        return iter(())
    if _shb_order(buf, 0) is None:
        raise ReplayError("pcapng section header has no valid byte-order magic")
    return _pcapng_blocks(buf, merger)


def _shb_order(buf: bytes, off: int) -> str | None:
    if off + 12 > len(buf):
        return None
    if U32["<"].unpack_from(buf, off + 8)[0] == cf.PCAPNG_BOM:
        return "<"
    if U32[">"].unpack_from(buf, off + 8)[0] == cf.PCAPNG_BOM:
        return ">"
    return None


def _block_len(buf: bytes, off: int, bo: str, known_only: bool = False) -> int | None:
    """Total length of a plausible block at `off` (both length fields agree), else None."""
    n = len(buf)
    if off + 12 > n:
        return None
    u32 = U32[bo].unpack_from
    btype = u32(buf, off)[0]
    if btype == cf.PCAPNG_SHB:
        bo2 = _shb_order(buf, off)
        if bo2 is None:
            return None
        u32 = U32[bo2].unpack_from
    elif known_only and btype not in _PCAPNG_BLOCKS:
        return None  # resynchronising: only trust block types we know
    total: int = u32(buf, off + 4)[0]
    if total < 12 or total % 4 or off + total > n or u32(buf, off + total - 4)[0] != total:
        return None
    return total


# Per interface: decoder, seconds per tick, ticks per second when that is a whole number (exact
# time stamps: whole seconds and the fraction apart), offset in seconds.
Interface = tuple[FrameDecoder, float, int, int]


def _interface(buf: bytes, off: int, end: int, bo: str, crc: CrcCheck) -> Interface:
    linktype = struct.unpack_from(bo + "H", buf, off + 8)[0]
    decode = frame_decoder(linktype, crc) or not_advert
    tick, ts_offset = 1e-6, 0
    per_s = 1_000_000
    p = off + 16
    while p + 4 <= end:
        code, length = struct.unpack_from(bo + "HH", buf, p)
        if code == 0 or p + 4 + length > end:
            break
        if code == cf.PCAPNG_OPT_TSRESOL and length >= 1:
            v = buf[p + 4]
            tick = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -min(v, 30)
            per_s = 10**v if not v & 0x80 and v <= 18 else 0
        elif code == 14 and length >= 8:  # if_tsoffset, seconds
            ts_offset = struct.unpack_from(bo + "q", buf, p + 4)[0]
        p += 4 + length + (-length % 4)
    return decode, tick, per_s, ts_offset


def _pcapng_blocks(buf: bytes, merger: Merger) -> Iterator[Batch]:
    stats = merger.stats
    n = len(buf)
    off = 0
    bo = _shb_order(buf, 0) or "<"
    ifaces: list[Interface] = []
    crc = CrcCheck()
    records = corrupt = other = 0
    last_t = 0.0
    try:
        while off < n:
            total = _block_len(buf, off, bo)
            if total is None:
                corrupt += 1
                off += 1
                while off < n and _block_len(buf, off, bo, known_only=True) is None:
                    off += 1
                if off >= n:
                    stats.truncated = True
                continue
            u32 = U32[bo].unpack_from
            btype = u32(buf, off)[0]
            end = off + total - 4
            if btype == cf.PCAPNG_SHB:
                bo = _shb_order(buf, off) or bo
                ifaces = []  # interface ids are per section
            elif btype == cf.PCAPNG_IDB:
                if off + 16 <= end:
                    ifaces.append(_interface(buf, off, end, bo, crc))
                    if stats.linktype is None:
                        stats.linktype = struct.unpack_from(bo + "H", buf, off + 8)[0]
            elif btype in (cf.PCAPNG_EPB, cf.PCAPNG_SPB):
                records += 1
                if btype == cf.PCAPNG_EPB:
                    if off + 28 > end:
                        corrupt += 1
                        off += total
                        continue
                    ifid, tsh, tsl, cap, _orig = struct.unpack_from(bo + "IIIII", buf, off + 8)
                    start = off + 28
                else:
                    ifid, cap, start = 0, min(u32(buf, off + 8)[0], end - off - 12), off + 12
                    tsh = tsl = -1
                if ifid >= len(ifaces) or start + cap > end:
                    corrupt += 1
                else:
                    decode, tick, per_s, ts_offset = ifaces[ifid]
                    if tsh >= 0:
                        ticks = (tsh << 32) | tsl
                        if per_s:
                            sec, frac = divmod(ticks, per_s)
                            last_t = sec + ts_offset + frac * tick
                        else:
                            last_t = ticks * tick + ts_offset
                    r = decode(buf, start, start + cap)
                    if isinstance(r, int):
                        if r == NOT_ADVERT:
                            other += 1
                        elif r == CRC_FAILED:
                            merger.drop(last_t)
                        else:
                            corrupt += 1
                    else:
                        merger.add(last_t, r)
                        if len(merger.out) >= merger.batch:
                            stats.bytes_read = off
                            stats.records = records
                            yield merger.take()
            off += total
        if merger.out or merger.out.drops:
            yield merger.take()
    finally:
        stats.bytes_read = min(off, n)
        stats.records = records
        stats.skipped_corrupt += corrupt
        stats.non_advert += other
        merger.flush_stats()
        flush_crc(crc, merger)
