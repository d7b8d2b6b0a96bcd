"""Decode one captured frame (BLE LL or HCI event) into advertising reports; never raises.

A report is a tuple `(kind, address, rssi_dbm, data)`. Decoders return one report, a list of
reports (HCI events may carry several), or an int status (`NOT_ADVERT`, `CORRUPT`, `CRC_FAILED`)
so the container loops can count without allocating.

CRC (docs/protocol.md §6: only CRC-valid frames count): a frame the sniffer checked is taken at its
word (PHDR "CRC checked" + "CRC valid", nRF Sniffer's "CRC OK"); any other frame that carries its
CRC is verified here (`CrcCheck`), before its PDU type is even looked at, so a bit error can
neither invent a device nor turn an advert into something else. A frame without its CRC (a
sniffer that strips it) is accepted and counted in `CrcCheck.absent`.
"""

from __future__ import annotations

import struct
from typing import Final

from scanner.ble.advert import PduKind
from scanner.sources.replay.crc import CrcCheck
from scanner.sources.replay.formats import (
    ADV_ACCESS_ADDRESS,
    HCI_EVENT_KIND,
    HCI_EVENT_PKT,
    HCI_LE_META,
    HCI_RSSI_UNAVAILABLE,
    LE_ADV_REPORT,
    LE_EXT_ADV_REPORT,
    LL_PDU_KIND,
    PHDR_CRC_CHECKED,
    PHDR_CRC_VALID,
    PHDR_SIGNAL_VALID,
)

Report = tuple[PduKind, str, int | None, bytes]
Decoded = Report | list[Report] | int

NOT_ADVERT: Final = 1
CORRUPT: Final = 2
CRC_FAILED: Final = 3

_PHDR = struct.Struct("<BbbBIH")
_LL = struct.Struct("<IBB")
_CRC_BAD_MASK: Final = PHDR_CRC_CHECKED | PHDR_CRC_VALID
_ADV_DIRECT: Final = PduKind.ADV_DIRECT_IND
# Extended report event-type bit 3 marks a scan response (Core Vol 4 Part E §7.7.65.13).
_EXT_SCAN_RSP: Final = 0x08
_EXT_LEGACY: Final = 0x10

# Addresses repeat many times in a capture; formatting each once saves most of the per-advert
# cost. Bounded so a capture full of rotating addresses cannot grow it without limit.
_ADDR_CACHE_MAX: Final = 65536
_addr_cache: dict[bytes, str] = {}


def address_str(le6: bytes) -> str:
    """6 on-air (little-endian) address bytes -> 'AA:BB:CC:DD:EE:FF'."""
    s = _addr_cache.get(le6)
    if s is None:
        if len(_addr_cache) >= _ADDR_CACHE_MAX:
            _addr_cache.clear()
        s = _addr_cache[le6] = le6[::-1].hex(":").upper()
    return s


def decode_ll(buf: bytes, off: int, end: int, phdr: bool, crc: CrcCheck | None) -> Decoded:
    """A LINKTYPE 251 frame (access address first) or 256 frame (10-byte PHDR first).

    `crc` verifies frames whose CRC nobody checked (None: trust every frame, tests only).
    """
    rssi: int | None = None
    if phdr:
        if end - off < 10:
            return CORRUPT
        _ch, signal, _noise, _aao, _ref, flags = _PHDR.unpack_from(buf, off)
        if flags & PHDR_CRC_CHECKED:
            if not flags & PHDR_CRC_VALID:
                return CRC_FAILED
            crc = None  # the sniffer checked it
        if flags & PHDR_SIGNAL_VALID:
            rssi = signal
        off += 10
    return decode_adv_pdu(buf, off, end, rssi, crc)


def decode_adv_pdu(
    buf: bytes, off: int, end: int, rssi: int | None, crc: CrcCheck | None
) -> Decoded:
    """Access address, PDU and (unless stripped) CRC; `crc` None when the capture checked it."""
    if end - off < 6:
        return CORRUPT
    aa, h0, plen = _LL.unpack_from(buf, off)
    if aa != ADV_ACCESS_ADDRESS:
        return NOT_ADVERT  # a data-channel packet
    p = off + 6
    if p + plen > end:
        return CORRUPT  # the PDU itself must be whole
    if crc is not None:
        # The link types put the CRC in the frame's last 3 bytes. A frame exactly 3 bytes short
        # comes from a sniffer that strips it (no single bit error in the length makes one);
        # any other disagreement between length and frame is damage.
        stop = p + plen + 3
        if stop == end:
            if not crc.ok(buf[off + 4 : stop]):
                return CRC_FAILED
            crc.verified += 1
        elif p + plen == end:
            crc.absent += 1
        else:
            return CORRUPT
    kind = LL_PDU_KIND[h0 & 0x0F]
    if kind is None:
        return NOT_ADVERT  # SCAN_REQ, CONNECT_IND, extended advertising headers
    if plen < 6:
        return CORRUPT
    adva = address_str(buf[p : p + 6])
    if kind is _ADV_DIRECT:
        return (kind, adva, rssi, b"")
    return (kind, adva, rssi, buf[p + 6 : p + plen])


def decode_hci_h4(buf: bytes, off: int, end: int) -> Decoded:
    """An H4 packet: type byte, then (for 0x04) an HCI event."""
    if off >= end:
        return CORRUPT
    if buf[off] != HCI_EVENT_PKT:
        return NOT_ADVERT
    return decode_hci_event(buf, off + 1, end)


def decode_hci_event(buf: bytes, off: int, end: int) -> Decoded:
    """An HCI event (code, length, parameters): LE Meta legacy (0x02) or extended (0x0D) reports."""
    if end - off < 3:
        return CORRUPT
    if buf[off] != HCI_LE_META:
        return NOT_ADVERT
    stop = off + 2 + buf[off + 1]
    if stop > end:
        return CORRUPT
    sub = buf[off + 2]
    if sub == LE_ADV_REPORT:
        return _legacy_reports(buf, off + 3, stop)
    if sub == LE_EXT_ADV_REPORT:
        return _extended_reports(buf, off + 3, stop)
    return NOT_ADVERT


def _legacy_reports(buf: bytes, p: int, stop: int) -> Decoded:
    # Reports are laid out one after another, as Linux and btmon read them (hci_event.c).
    if p >= stop:
        return CORRUPT
    num = buf[p]
    p += 1
    out: list[Report] = []
    for _ in range(num):
        if p + 9 > stop:
            return out or CORRUPT
        etype = buf[p]
        dlen = buf[p + 8]
        q = p + 9 + dlen
        if q + 1 > stop or etype > 4:
            return out or CORRUPT
        rssi: int | None = buf[q] - 256 if buf[q] > 127 else buf[q]
        if rssi == HCI_RSSI_UNAVAILABLE:
            rssi = None
        out.append((HCI_EVENT_KIND[etype], address_str(buf[p + 2 : p + 8]), rssi, buf[p + 9 : q]))
        p = q + 1
    if len(out) == 1:
        return out[0]
    return out or NOT_ADVERT


_EXT_LEGACY_KIND: Final = {
    0x13: PduKind.ADV_IND,
    0x15: PduKind.ADV_DIRECT_IND,
    0x12: PduKind.ADV_SCAN_IND,
    0x10: PduKind.ADV_NONCONN_IND,
    0x1B: PduKind.SCAN_RSP,
    0x1A: PduKind.SCAN_RSP,
}


def _extended_reports(buf: bytes, p: int, stop: int) -> Decoded:
    if p >= stop:
        return CORRUPT
    num = buf[p]
    p += 1
    out: list[Report] = []
    for _ in range(num):
        if p + 24 > stop:
            return out or CORRUPT
        etype = buf[p] | buf[p + 1] << 8
        raw_rssi = buf[p + 13]
        dlen = buf[p + 23]
        q = p + 24 + dlen
        if q > stop:
            return out or CORRUPT
        if etype & _EXT_LEGACY:
            kind = _EXT_LEGACY_KIND.get(etype & 0x1F, PduKind.UNKNOWN)
        elif etype & _EXT_SCAN_RSP:
            kind = PduKind.SCAN_RSP
        else:
            kind = PduKind.UNKNOWN
        rssi: int | None = raw_rssi - 256 if raw_rssi > 127 else raw_rssi
        if rssi == HCI_RSSI_UNAVAILABLE:
            rssi = None
        # Fragments (data status "incomplete") are reported as they come: the classifier reads
        # whatever complete AD structures the fragment holds.
        out.append((kind, address_str(buf[p + 3 : p + 9]), rssi, buf[p + 24 : q]))
        p = q
    if len(out) == 1:
        return out[0]
    return out or NOT_ADVERT
