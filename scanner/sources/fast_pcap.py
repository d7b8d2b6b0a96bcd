"""The replay fast path: little-endian pcap with BLE LL frames (link types 251 and 256).

Sniffer captures are the big files, and Python pays per operation, so ordinary records are
decoded here with one `struct` call each and merged inline. Anything unusual (a bad header, a
failed CRC, a data-channel or non-advertising PDU, the last few bytes of the file) stops the loop
and is handled by the general reader (`capture_read._records`), which then calls back in.
Both paths produce identical rows; `tests/replay` checks that.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from scanner.advert import PduKind
from scanner.sources import capture_formats as cf
from scanner.sources.merge import MERGE_WINDOW_S

if TYPE_CHECKING:
    from scanner.sources.merge import Merger

# pcap record header (sec, frac, incl, orig) + PHDR (signal, flags) + AA, PDU header, AdvA (as a
# u64: its 6 bytes plus 2 that are masked off; the CRC guarantees they exist in a whole frame).
_REC_PHDR = struct.Struct("<IIIIxbxx4xHIBBQ")
_REC_LL = struct.Struct("<IIIIIBBQ")
_MAX_FRAME: Final = 300  # PHDR 10 + AA 4 + header 2 + payload 255 + CRC 3, rounded up
_CRC_MASK: Final = cf.PHDR_CRC_CHECKED | cf.PHDR_CRC_VALID
_ADDR_MASK: Final = 0xFFFFFFFFFFFF
_CACHE_MAX: Final = 65536


def pcap_ll_loop(merger: Merger, *, phdr: bool, scale: int) -> Callable[[bytes, int], int]:
    """A loop over ordinary records; returns the offset of the first record it did not take."""
    unpack = (_REC_PHDR if phdr else _REC_LL).unpack_from
    rec_min = (_REC_PHDR if phdr else _REC_LL).size
    front = 16 if phdr else 6  # frame bytes before the AdvA: PHDR, access address, PDU header
    data_at = 16 + front + 6
    inv = 1.0 / scale
    kinds = cf.LL_PDU_KIND
    scan_rsp = PduKind.SCAN_RSP
    adv_aa = cf.ADV_ACCESS_ADDRESS
    crc_bad = cf.PHDR_CRC_CHECKED
    cache: dict[int, str] = {}

    def loop(buf: bytes, off: int) -> int:
        lim = len(buf) - rec_min
        out = merger.out
        app = out.append
        last = merger.last
        limit = merger.limit
        room = merger.batch - len(out)
        taken = merged = orphans = 0
        sig = 0
        flags = cf.PHDR_SIGNAL_VALID if phdr else 0
        while off <= lim and taken < room:
            if phdr:
                sec, frac, incl, orig, sig, flags, aa, h0, plen, adva = unpack(buf, off)
            else:
                sec, frac, incl, orig, aa, h0, plen, adva = unpack(buf, off)
            k = h0 & 0x0F
            if (
                frac >= scale
                or incl != orig
                or incl > _MAX_FRAME
                or aa != adv_aa
                or flags & _CRC_MASK == crc_bad
                or plen < 6
                or front + plen > incl
                or (k != 0 and k != 2 and k != 4 and k != 6)
            ):
                break
            start = off
            off += 16 + incl
            if off > lim + rec_min:
                off = start
                break
            adva &= _ADDR_MASK
            addr = cache.get(adva)
            if addr is None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                addr = cache[adva] = adva.to_bytes(6, "big").hex(":").upper()
            t = sec + frac * inv
            rssi = sig if phdr and flags & cf.PHDR_SIGNAL_VALID else None
            data = buf[start + data_at : start + data_at + plen - 6]
            taken += 1
            if k == 4:
                prev = last.get(addr)
                if prev is not None and 0.0 <= t - prev[0] <= MERGE_WINDOW_S:
                    merged += 1
                    app((t, addr, rssi, prev[1], data, prev[2]))
                else:
                    orphans += 1
                    app((t, addr, rssi, b"", data, scan_rsp))
                continue
            kind = kinds[k]
            if k != 2:  # ADV_NONCONN_IND gets no scan response
                if len(last) >= limit:
                    merger.prune(t)
                    limit = merger.limit
                last[addr] = (t, data, kind)
            app((t, addr, rssi, data, None, kind))
        merger.fast_records += taken
        merger.adverts += taken
        merger.merged += merged
        merger.orphans += orphans
        return off

    return loop
