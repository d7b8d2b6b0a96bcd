"""Frame encoders for the capture writers: BLE LL (+ PHDR, + nRF Sniffer header) and HCI events.

Layouts: Core Vol 6 Part B §2.3 (advertising PDUs) and §3.1.1 (CRC-24); Wireshark's
packet-btle_rf.c (the LINKTYPE 256 PHDR) and packet-nordic_ble.c (LINKTYPE 272, nRF Sniffer
header versions 0-3); Core Vol 4 Part E §7.7.65.2 and §7.7.65.13 (LE (Extended) Advertising
Report events).
"""

from __future__ import annotations

import struct
from typing import Final, Literal

from scanner.ble.advert import PduKind
from scanner.sources.replay.crc import ble_crc24
from scanner.sources.replay.formats import (
    ADV_ACCESS_ADDRESS,
    HCI_EVENT_TYPE,
    HCI_LE_META,
    HCI_RSSI_UNAVAILABLE,
    LE_ADV_REPORT,
    LE_EXT_ADV_REPORT,
    LL_PDU_TYPE,
    NORDIC_EVENT_LEN,
    NORDIC_EVENT_PACKET,
    NORDIC_EVENT_PACKET_ADV,
    NORDIC_FLAG_CRC_OK,
    NORDIC_LEGACY_MARKER,
    PHDR_CRC_CHECKED,
    PHDR_CRC_VALID,
    PHDR_DEWHITENED,
    PHDR_NOISE_VALID,
    PHDR_SIGNAL_VALID,
    address_bytes,
)

AddressType = Literal["public", "random"]
NOISE_DBM: Final = -95
NORDIC_VERSIONS: Final = (0, 1, 2, 3)
_RF_CHANNEL: Final = {37: 0, 38: 12, 39: 39}  # advertising channel index -> RF channel
# Extended report: legacy PDU bit 4 (Core Vol 4 Part E §7.7.65.13); no bits: a plain complete
# report whose PDU type the host was not told (what a record of a bleak scan knows).
EXT_EVENT_UNKNOWN: Final = 0x0000
_EXT_NO_ADDRESS: Final = bytes(7)  # direct address type + address


def ll_packet(kind: PduKind, address: str, data: bytes, *, address_type: AddressType) -> bytes:
    """Access address + advertising PDU + CRC-24, as a BLE sniffer captures it (link type 251)."""
    pdu_type = LL_PDU_TYPE[kind]
    adva = address_bytes(address)
    payload = adva + (bytes(6) if kind is PduKind.ADV_DIRECT_IND else data)
    if len(payload) > 255:
        raise ValueError("advertising PDU payload longer than 255 bytes")
    tx_add = 0x40 if address_type == "random" else 0
    pdu = bytes((pdu_type | tx_add, len(payload))) + payload
    return ADV_ACCESS_ADDRESS.to_bytes(4, "little") + pdu + ble_crc24(pdu)


def le_phdr(
    channel: int, rssi_dbm: int | None, *, crc_valid: bool = True, crc_checked: bool = True
) -> bytes:
    """The 10-byte LINKTYPE 256 PHDR: channel, signal, noise, AA offenses, ref AA, flags.

    `crc_checked=False` writes what SDR sniffers write (HackRF ice9-bluetooth-sniffer:
    dewhitened, CRC not checked): the reader must verify the CRC itself.
    """
    flags = PHDR_DEWHITENED | PHDR_NOISE_VALID
    if crc_checked:
        flags |= PHDR_CRC_CHECKED | (PHDR_CRC_VALID if crc_valid else 0)
    signal = 0
    if rssi_dbm is not None:
        flags |= PHDR_SIGNAL_VALID
        signal = max(-128, min(127, rssi_dbm))
    return struct.pack("<BbbBIH", _RF_CHANNEL[channel], signal, NOISE_DBM, 0, 0, flags)


def nordic_header(
    version: int,
    ll_len: int,
    *,
    channel: int,
    rssi_dbm: int | None,
    crc_ok: bool = True,
    counter: int = 0,
    time_us: int = 0,
    board: int = 1,
) -> bytes:
    """The nRF Sniffer header (LINKTYPE 272) that precedes an LL packet of `ll_len` bytes.

    RSSI goes on air as a positive sample (-RSSI dBm); nRF Sniffer always measures it, so None
    is written as the weakest value, 127.
    """
    if version not in NORDIC_VERSIONS:
        raise ValueError(f"nRF Sniffer header version must be one of {NORDIC_VERSIONS}")
    rssi = 127 if rssi_dbm is None else max(0, min(127, -rssi_dbm))
    flags = NORDIC_FLAG_CRC_OK if crc_ok else 0
    # Event packet: flags, channel, RSSI sample, event counter (0 on advertising), then the
    # delta time (versions 0-2) or the firmware time stamp (version 3), microseconds.
    event = struct.pack("<BBBHI", flags, channel, rssi, 0, time_us & 0xFFFFFFFF)
    counter &= 0xFFFF
    if version == 0:
        plen = len(event) + ll_len
        head = struct.pack("<BHHB", NORDIC_EVENT_PACKET, counter, 0, plen)
        return NORDIC_LEGACY_MARKER + head + event
    plen = NORDIC_EVENT_LEN + ll_len
    pid = NORDIC_EVENT_PACKET_ADV if version >= 3 else NORDIC_EVENT_PACKET
    if version == 1:
        head = struct.pack("<BBBBHB", board, 6, plen, 1, counter, pid)
    else:
        head = struct.pack("<BHBHB", board, plen, version, counter, pid)
    return head + bytes((NORDIC_EVENT_LEN,)) + event


def hci_adv_report(
    kind: PduKind, address: str, data: bytes, rssi_dbm: int | None, *, address_type: AddressType
) -> bytes:
    """HCI LE Meta event / LE Advertising Report with one report, without the H4 type byte."""
    rssi = HCI_RSSI_UNAVAILABLE if rssi_dbm is None else max(-127, min(20, rssi_dbm))
    body = (
        bytes((LE_ADV_REPORT, 1, HCI_EVENT_TYPE[kind], 1 if address_type == "random" else 0))
        + address_bytes(address)
        + bytes((len(data),))
        + data
        + struct.pack("b", rssi)
    )
    if len(body) > 255:
        raise ValueError("advertising data too long for a legacy HCI advertising report")
    return bytes((HCI_LE_META, len(body))) + body


def hci_ext_adv_report(
    address: str,
    data: bytes,
    rssi_dbm: int | None,
    *,
    address_type: AddressType,
    event_type: int = EXT_EVENT_UNKNOWN,
) -> bytes:
    """HCI LE Meta event / LE Extended Advertising Report (one report, up to 229 data bytes)."""
    rssi = HCI_RSSI_UNAVAILABLE if rssi_dbm is None else max(-127, min(20, rssi_dbm))
    report = (
        struct.pack("<HB", event_type, 1 if address_type == "random" else 0)
        + address_bytes(address)
        # primary PHY LE 1M, no secondary PHY, no SID, TX power unavailable, RSSI, no periodic
        + struct.pack("<BBBbbH", 1, 0, 0xFF, 127, rssi, 0)
        + _EXT_NO_ADDRESS
        + bytes((len(data),))
        + data
    )
    body = bytes((LE_EXT_ADV_REPORT, 1)) + report
    if len(body) > 255:
        raise ValueError("advertising data too long for one HCI extended advertising report")
    return bytes((HCI_LE_META, len(body))) + body
