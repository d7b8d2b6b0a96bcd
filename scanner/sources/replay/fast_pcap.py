"""The replay fast path: little-endian pcap with BLE LL frames (link types 251 and 256).

Sniffer captures are the big files, and Python pays per operation, so ordinary records are
decoded here with one `struct` call each and merged inline. A frame whose CRC the sniffer did not
check has it verified here too (frames seen before hit `CrcCheck.good`, a set lookup). Anything
unusual (a bad header, a failed CRC, a data-channel or non-advertising PDU, the last few bytes of
the file) stops the loop and is handled by the general reader (`pcap._records`), which then
calls back in. Both paths produce identical rows; `tests/replay` checks that.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from scanner.ble.advert import PduKind
from scanner.sources.replay import formats as cf
from scanner.sources.replay.merge import MERGE_WINDOW_S

if TYPE_CHECKING:
    from scanner.sources.replay.crc import CrcCheck
    from scanner.sources.replay.merge import Merger

# pcap record header (sec, frac, incl; orig skipped) + PHDR (signal, flags) + AA, PDU header,
# AdvA as a u64 (its 6 bytes plus 2 masked off; the CRC guarantees they exist in a whole frame).
_REC_PHDR = struct.Struct("<III4xxbxx4xHIBBQ")
_REC_LL = struct.Struct("<III4xIBBQ")
_CRC_MASK: Final = cf.PHDR_CRC_CHECKED | cf.PHDR_CRC_VALID
_ADDR_MASK: Final = 0xFFFFFFFFFFFF
_CACHE_MAX: Final = 65536
# PDU types this loop takes (ADV_IND, ADV_NONCONN_IND, SCAN_RSP, ADV_SCAN_IND); None: general path.
_FAST_KINDS: Final = tuple(k if i in (0, 2, 4, 6) else None for i, k in enumerate(cf.LL_PDU_KIND))


def pcap_ll_loop(
    merger: Merger, *, phdr: bool, scale: int, crc: CrcCheck
) -> Callable[[bytes, int], int]:
    """A loop over ordinary records; returns the offset of the first record it did not take."""
    unpack = (_REC_PHDR if phdr else _REC_LL).unpack_from
    rec_min = (_REC_PHDR if phdr else _REC_LL).size
    front = 16 if phdr else 6  # frame bytes before the AdvA: PHDR, access address, PDU header
    data_at = 16 + front + 6
    pdu_at = 16 + front - 2  # the PDU header: where the CRC's coverage starts
    inv = 1.0 / scale
    crc_checked = cf.PHDR_CRC_CHECKED
    good = crc.good
    crc_ok = crc.ok
    scan_rsp = PduKind.SCAN_RSP
    nonconn = PduKind.ADV_NONCONN_IND
    adv_aa = cf.ADV_ACCESS_ADDRESS
    crc_bad = cf.PHDR_CRC_CHECKED
    crc_mask = _CRC_MASK
    sig_valid = cf.PHDR_SIGNAL_VALID
    cache: dict[int, str] = {}

    def loop(buf: bytes, off: int) -> int:
        n = len(buf)
        lim = n - rec_min
        out = merger.out
        app = out.append
        last = merger.last
        limit = merger.limit
        feed = merger.feed
        room = merger.batch - len(out) if feed is None else 1 << 62
        taken = merged = orphans = verified = no_rssi = 0
        sig = 0
        flags = 0  # link type 251: no PHDR, so no signal and no CRC flags
        # Locals, not globals, in the loop: each global lookup costs as much as a comparison.
        kinds, addr_mask, window = _FAST_KINDS, _ADDR_MASK, MERGE_WINDOW_S
        while off <= lim and taken < room:
            if phdr:
                sec, frac, incl, sig, flags, aa, h0, plen, adva = unpack(buf, off)
            else:
                sec, frac, incl, aa, h0, plen, adva = unpack(buf, off)
            kind = kinds[h0 & 0x0F]
            nxt = off + 16 + incl
            # Only whole frames with their CRC (incl == PHDR/AA/header + PDU + 3) take this path;
            # anything else (no CRC, snaplen cuts, padding) goes to the general reader.
            if (
                kind is None
                or aa != adv_aa
                or incl != front + plen + 3
                or nxt > n
                or frac >= scale
                or flags & crc_mask == crc_bad
                or plen < 6
            ):
                break
            if not flags & crc_checked:
                frame = buf[off + pdu_at : nxt]
                if frame not in good and not crc_ok(frame):
                    break  # the general reader counts it as a CRC failure, in time order
                verified += 1
            adva &= addr_mask
            addr = cache.get(adva)
            if addr is None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                addr = cache[adva] = adva.to_bytes(6, "big").hex(":").upper()
            t = sec + frac * inv
            a = off + data_at
            data = buf[a : a + plen - 6]
            off = nxt
            taken += 1
            rssi = sig if flags & sig_valid else None
            if rssi is None:
                no_rssi += 1
            if kind is scan_rsp:
                prev = last.get(addr)
                if prev is not None and 0.0 <= t - prev[0] <= window:
                    merged += 1
                    if feed is None:
                        app((t, addr, rssi, prev[1], data, prev[2]))
                    else:
                        feed(t, addr, rssi, prev[1], data)
                else:
                    orphans += 1
                    if feed is None:
                        app((t, addr, rssi, b"", data, scan_rsp))
                    else:
                        feed(t, addr, rssi, b"", data)
                continue
            if kind is not nonconn:  # ADV_NONCONN_IND gets no scan response
                if len(last) >= limit:
                    merger.prune(t)
                    limit = merger.limit
                last[addr] = (t, data, kind)
            if feed is None:
                app((t, addr, rssi, data, None, kind))
            else:
                feed(t, addr, rssi, data, None)
        merger.fast_records += taken
        merger.no_rssi += no_rssi
        crc.verified += verified
        merger.adverts += taken
        merger.merged += merged
        merger.orphans += orphans
        return off

    return loop
