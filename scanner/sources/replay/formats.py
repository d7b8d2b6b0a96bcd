"""Constants and tiny codecs shared by the capture writers and the replay reader (pure, no I/O).

Sources: pcap/pcapng (IETF draft-ietf-opsawg-pcap / -pcapng), tcpdump.org link-type list
(251 BLUETOOTH_LE_LL, 256 BLUETOOTH_LE_LL_WITH_PHDR, 201 BLUETOOTH_HCI_H4_WITH_PHDR,
272 NORDIC_BLE), the
Bluetooth Core spec Vol 6 Part B §2.3 (advertising PDUs) and §3.1.1 (CRC-24), Vol 4 Part E §7.7.65.2
(LE Advertising Report event), btsnoop (RFC 1761 layout; BlueZ `src/shared/btsnoop.h`).
"""

from __future__ import annotations

from typing import Final

from scanner.ble.advert import PduKind

LINKTYPE_BLE_LL: Final = 251
LINKTYPE_BLE_LL_PHDR: Final = 256
LINKTYPE_HCI_H4_PHDR: Final = 201
LINKTYPE_NORDIC_BLE: Final = 272
PCAP_LINKTYPES: Final = frozenset(
    {LINKTYPE_BLE_LL, LINKTYPE_BLE_LL_PHDR, LINKTYPE_HCI_H4_PHDR, LINKTYPE_NORDIC_BLE}
)

PCAP_MAGIC_US: Final = 0xA1B2C3D4
PCAP_MAGIC_NS: Final = 0xA1B23C4D
PCAPNG_SHB: Final = 0x0A0D0D0A
PCAPNG_BOM: Final = 0x1A2B3C4D
PCAPNG_IDB: Final = 1
PCAPNG_SPB: Final = 3
PCAPNG_EPB: Final = 6
PCAPNG_OPT_TSRESOL: Final = 9

BTSNOOP_MAGIC: Final = b"btsnoop\x00"
BTSNOOP_H4: Final = 1002
BTSNOOP_MONITOR: Final = 2001
# btsnoop time stamps are microseconds since 0000-01-01; this is 1970-01-01 on that scale.
BTSNOOP_EPOCH_US: Final = 0x00DCDDB30F2F8000
MONITOR_NEW_INDEX: Final = 0
MONITOR_EVENT: Final = 3

ADV_ACCESS_ADDRESS: Final = 0x8E89BED6
# Wireshark's btle_rf PHDR flag bits (epan/dissectors/packet-btle_rf.c).
PHDR_DEWHITENED: Final = 0x0001
PHDR_SIGNAL_VALID: Final = 0x0002
PHDR_NOISE_VALID: Final = 0x0004
PHDR_CRC_CHECKED: Final = 0x0400
PHDR_CRC_VALID: Final = 0x0800

# nRF Sniffer for Bluetooth LE (LINKTYPE_NORDIC_BLE), as Wireshark's packet-nordic_ble.c
# documents it: header version 0 starts with the marker 0xBEEF, versions 1-3 with a board id.
NORDIC_LEGACY_MARKER: Final = b"\xbe\xef"
NORDIC_EVENT_PACKET: Final = 0x06  # versions 0-2: any packet; version 3: data channel only
NORDIC_EVENT_PACKET_ADV: Final = 0x02  # version 3: advertising channel packet
NORDIC_FLAG_CRC_OK: Final = 0x01
NORDIC_EVENT_LEN: Final = 10  # packet length, flags, channel, RSSI, event counter, time

HCI_EVENT_PKT: Final = 0x04
HCI_LE_META: Final = 0x3E
LE_ADV_REPORT: Final = 0x02
LE_EXT_ADV_REPORT: Final = 0x0D
HCI_RSSI_UNAVAILABLE: Final = 127

# Advertising channel PDU types (Core Vol 6 Part B §2.3).
LL_PDU_TYPE: Final[dict[PduKind, int]] = {
    PduKind.ADV_IND: 0,
    PduKind.ADV_DIRECT_IND: 1,
    PduKind.ADV_NONCONN_IND: 2,
    PduKind.SCAN_RSP: 4,
    PduKind.ADV_SCAN_IND: 6,
    PduKind.UNKNOWN: 0,
}
LL_PDU_KIND: Final[tuple[PduKind | None, ...]] = (
    PduKind.ADV_IND, PduKind.ADV_DIRECT_IND, PduKind.ADV_NONCONN_IND, None, PduKind.SCAN_RSP,
    None, PduKind.ADV_SCAN_IND, None, None, None, None, None, None, None, None, None,
)  # fmt: skip
# Legacy LE Advertising Report event types (Core Vol 4 Part E §7.7.65.2).
HCI_EVENT_TYPE: Final[dict[PduKind, int]] = {
    PduKind.ADV_IND: 0,
    PduKind.ADV_DIRECT_IND: 1,
    PduKind.ADV_SCAN_IND: 2,
    PduKind.ADV_NONCONN_IND: 3,
    PduKind.SCAN_RSP: 4,
    PduKind.UNKNOWN: 0,
}
HCI_EVENT_KIND: Final[tuple[PduKind, ...]] = (
    PduKind.ADV_IND, PduKind.ADV_DIRECT_IND, PduKind.ADV_SCAN_IND, PduKind.ADV_NONCONN_IND,
    PduKind.SCAN_RSP,
)  # fmt: skip


def address_bytes(address: str) -> bytes:
    """'AA:BB:CC:DD:EE:FF' -> the 6 bytes as they go on air (little-endian)."""
    raw = bytes.fromhex(address.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError("a Bluetooth address has 6 bytes")
    return raw[::-1]
