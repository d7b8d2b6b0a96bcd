"""Constants and tiny codecs shared by the capture writers and the replay reader (pure, no I/O).

Sources: pcap/pcapng (IETF draft-ietf-opsawg-pcap / -pcapng), tcpdump.org link-type list
(251 BLUETOOTH_LE_LL, 256 BLUETOOTH_LE_LL_WITH_PHDR, 201 BLUETOOTH_HCI_H4_WITH_PHDR), the
Bluetooth Core spec Vol 6 Part B §2.3 (advertising PDUs) and §3.1.1 (CRC-24), Vol 4 Part E §7.7.65.2
(LE Advertising Report event), btsnoop (RFC 1761 layout; BlueZ `src/shared/btsnoop.h`).
"""

from __future__ import annotations

from typing import Final

from scanner.ble.advert import PduKind

LINKTYPE_BLE_LL: Final = 251
LINKTYPE_BLE_LL_PHDR: Final = 256
LINKTYPE_HCI_H4_PHDR: Final = 201
PCAP_LINKTYPES: Final = frozenset({LINKTYPE_BLE_LL, LINKTYPE_BLE_LL_PHDR, LINKTYPE_HCI_H4_PHDR})

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

# BLE CRC-24: polynomial x^24+x^10+x^9+x^6+x^4+x^3+x+1, shifted in LSB first (Core Vol 6 Part B
# §3.1.1). In the LSB-first register the feedback mask is 0xDA6000; the init value 0x555555 is
# loaded bit-reversed per byte, and the result goes on air little-endian.
_CRC_FEEDBACK: Final = 0xDA6000


def _crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        state = i
        for _ in range(8):
            state = (state >> 1) ^ (_CRC_FEEDBACK if state & 1 else 0)
        table.append(state)
    return tuple(table)


_CRC_TABLE: Final = _crc_table()


def _reverse_byte(b: int) -> int:
    return int(f"{b:08b}"[::-1], 2)


def crc_register_init(init: int = 0x555555) -> int:
    """The spec's CRC init value as the LSB-first register holds it."""
    return (
        _reverse_byte(init & 0xFF)
        | _reverse_byte((init >> 8) & 0xFF) << 8
        | _reverse_byte((init >> 16) & 0xFF) << 16
    )


_ADV_CRC_INIT: Final = crc_register_init()


def ble_crc24(pdu: bytes, init: int = _ADV_CRC_INIT) -> bytes:
    """CRC-24 over an advertising PDU (header + payload), as the 3 bytes that follow it on air."""
    state = init
    table = _CRC_TABLE
    for byte in pdu:
        state = (state >> 8) ^ table[(state ^ byte) & 0xFF]
    return state.to_bytes(3, "little")


def address_bytes(address: str) -> bytes:
    """'AA:BB:CC:DD:EE:FF' -> the 6 bytes as they go on air (little-endian)."""
    raw = bytes.fromhex(address.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError("a Bluetooth address has 6 bytes")
    return raw[::-1]
