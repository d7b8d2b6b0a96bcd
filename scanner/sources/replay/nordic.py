"""LINKTYPE_NORDIC_BLE (272): what nRF Sniffer for Bluetooth LE writes, every header version.

Layout as Wireshark's `epan/dissectors/packet-nordic_ble.c` documents it (lengths in bytes):

- version 0 (legacy, firmware < 1.0): marker 0xBEEF (2), packet id (1), packet counter (2),
  unused (2), payload length (1);
- version 1: board id (1), header length (1, = 6), payload length (1), version (1),
  packet counter (2), packet id (1);
- versions 2 and 3: board id (1), payload length (2, little-endian), version (1),
  packet counter (2), packet id (1).

Then the event packet: its length (1, = 10; absent in version 0), flags (1), channel (1), RSSI
sample (1, the RSSI is minus this value; above 128 it is no dBm value at all), event counter
(2), delta time (versions 0-2) or firmware time stamp (version 3) (4); then the LL packet from
the access address through the CRC.
Flags bit 0 is "CRC OK": the sniffer always checks the CRC, so it is taken at its word. Bits 4-6
are the PHY; legacy advertising PDUs only use LE 1M (Core Vol 6 Part B §2.3), and on LE Coded a
coding-indicator byte follows the access address, so Coded frames are not adverts we count.
Packet id 0x06 (versions 0-2) is any packet, the access address says which channel; version 3
uses 0x02 for advertising packets and 0x06 for data packets. Versions above 3 are read with the
version 3 layout, as Wireshark does.
"""

from __future__ import annotations

from typing import Final

from scanner.sources.replay.formats import (
    ADV_ACCESS_ADDRESS,
    NORDIC_EVENT_PACKET,
    NORDIC_EVENT_PACKET_ADV,
    NORDIC_FLAG_CRC_OK,
    NORDIC_LEGACY_MARKER,
)
from scanner.sources.replay.frames import CORRUPT, CRC_FAILED, NOT_ADVERT, Decoded, decode_adv_pdu

_HEADER_V0: Final = 8
_HEADER_V1: Final = 7  # board id + 6-byte UART header (versions 1-3 alike)
_EVENT_FIELDS: Final = 10  # packet length, flags, channel, RSSI, event counter, time
_PHY_CODED: Final = 2


def decode_nordic(buf: bytes, off: int, end: int) -> Decoded:
    """One LINKTYPE 272 frame: nRF Sniffer header, then the LL packet; never raises."""
    if end - off < _HEADER_V0 + 9:
        return CORRUPT
    if buf[off : off + 2] == NORDIC_LEGACY_MARKER:
        pid = buf[off + 2]
        fields = off + _HEADER_V0 - 1  # no packet-length byte: flags at offset 8
        adv_id = NORDIC_EVENT_PACKET
    else:
        version = buf[off + 3]
        pid = buf[off + 6]
        fields = off + _HEADER_V1
        adv_id = NORDIC_EVENT_PACKET_ADV if version >= 3 else NORDIC_EVENT_PACKET
    if pid != adv_id:
        return NOT_ADVERT  # a data packet (version 3) or a sniffer state event
    flags = buf[fields + 1]
    ll = fields + _EVENT_FIELDS
    if ll + 6 > end:
        return CORRUPT
    if int.from_bytes(buf[ll : ll + 4], "little") != ADV_ACCESS_ADDRESS:
        return NOT_ADVERT  # versions 0-2 send data-channel packets with the same id
    if not flags & NORDIC_FLAG_CRC_OK:
        return CRC_FAILED
    if (flags >> 4) & 7 == _PHY_CODED:
        return NOT_ADVERT
    sample = buf[fields + 3]
    return decode_adv_pdu(buf, ll, end, -sample if sample <= 128 else None, None)
