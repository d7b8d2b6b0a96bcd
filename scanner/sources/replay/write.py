"""Capture-file writers: RawAdverts out as pcap, pcapng, btsnoop or the project's JSONL.

Tests and the simulator use these to make files in the formats real tools write, and
`bzscan --record` may use them too. Every output contains identifiers (addresses, Bluezone IDs):
writing one is a deliberate choice (docs/architecture.md §9).

Each RawAdvert becomes the packet(s) a receiver would have captured: the advertising PDU at `t`,
then, if `scan_rsp` is set, a separate SCAN_RSP at `t + SCAN_RSP_DELAY_S`, so readers see the two
the way a host does and must merge them themselves.

- pcap / pcapng, link type 251 (BLE LL), 256 (BLE LL with the 10-byte PHDR) and 272 (nRF
  Sniffer header, versions 0-3): access address 0x8E89BED6, PDU header (type, TxAdd, length),
  AdvA little-endian, AdvData, a correct CRC-24 (frame layouts in `encode`). The PHDR carries the
  RF channel, signal (when RSSI is known) and noise, and marks the frame dewhitened and CRC
  checked + valid (or, with `crc_checked=False`, not checked, as SDR sniffers write it).
- pcap / pcapng, link type 201 and btsnoop 1002 (H4) / 2001 (Linux monitor): HCI LE Meta event
  0x3E, subevent 0x02 (legacy advertising report) with event type, address type, address, data
  and RSSI (127 when unknown). btsnoop 2001 starts with a "new index" record for hci0.
- JSONL (`.jsonl`), one object per line, the host-level view (scan response already merged):
  `{"t": 1596866400.25, "address": "C4:7C:8D:6A:22:01", "address_type": "random", "rssi": -70,
  "adv": "0201020fffb522...", "scan_rsp": "14ff4c0001..." | null, "pdu": "adv_ind"}`.
  `t` is UTC epoch seconds, `rssi` dBm or null, `adv`/`scan_rsp` the raw AD bytes in hex, `pdu`
  a `PduKind` value. The reader also takes tshark's own lines as they are:
  `tshark -r f.pcap -T ek -x > f.jsonl` (one packet per line; scan responses merged on reading).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Literal

from scanner.ble.advert import PduKind, RawAdvert
from scanner.sources.replay.encode import (
    AddressType,
    hci_adv_report,
    le_phdr,
    ll_packet,
    nordic_header,
)
from scanner.sources.replay.formats import (
    BTSNOOP_EPOCH_US,
    BTSNOOP_H4,
    BTSNOOP_MAGIC,
    BTSNOOP_MONITOR,
    HCI_EVENT_PKT,
    LINKTYPE_BLE_LL,
    LINKTYPE_BLE_LL_PHDR,
    LINKTYPE_HCI_H4_PHDR,
    LINKTYPE_NORDIC_BLE,
    MONITOR_EVENT,
    MONITOR_NEW_INDEX,
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    PCAPNG_BOM,
    PCAPNG_EPB,
    PCAPNG_IDB,
    PCAPNG_OPT_TSRESOL,
    PCAPNG_SHB,
)

Format = Literal["pcap", "pcapng", "btsnoop", "jsonl"]
ByteOrder = Literal["<", ">"]
AddressTypeFor = AddressType | Callable[[RawAdvert], AddressType]
# A scan response follows its advert after T_IFS (150 us) + the SCAN_REQ; 0.5 ms is typical.
SCAN_RSP_DELAY_S: Final = 0.0005
_DEFAULT_LINKTYPE: Final[dict[str, int]] = {"pcap": 256, "pcapng": 256, "btsnoop": BTSNOOP_H4}
_LL_TYPES: Final = (LINKTYPE_BLE_LL, LINKTYPE_BLE_LL_PHDR, LINKTYPE_NORDIC_BLE)
_HCI_TYPES: Final = (LINKTYPE_HCI_H4_PHDR, BTSNOOP_H4, BTSNOOP_MONITOR)
_LINKTYPES_FOR: Final[dict[str, tuple[int, ...]]] = {
    "pcap": (LINKTYPE_BLE_LL, LINKTYPE_BLE_LL_PHDR, LINKTYPE_HCI_H4_PHDR, LINKTYPE_NORDIC_BLE),
    "pcapng": (LINKTYPE_BLE_LL, LINKTYPE_BLE_LL_PHDR, LINKTYPE_HCI_H4_PHDR, LINKTYPE_NORDIC_BLE),
    "btsnoop": (BTSNOOP_H4, BTSNOOP_MONITOR),
}
_ADV_CHANNELS: Final = (37, 38, 39)
_O_BINARY: Final = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def _packets(advert: RawAdvert) -> list[tuple[float, PduKind, bytes]]:
    kind = advert.pdu
    if kind is PduKind.SCAN_RSP:
        return [(advert.t, kind, advert.adv)]
    if kind is PduKind.UNKNOWN:
        kind = PduKind.ADV_IND if advert.scan_rsp is not None else PduKind.ADV_NONCONN_IND
    out = [(advert.t, kind, advert.adv)]
    if advert.scan_rsp is not None:
        out.append((advert.t + SCAN_RSP_DELAY_S, PduKind.SCAN_RSP, advert.scan_rsp))
    return out


class CaptureWriter:
    """Writes RawAdverts to one capture file; use as a context manager.

    Args:
        path: the file to create.
        fmt: "pcap", "pcapng", "btsnoop" or "jsonl".
        linktype: 251/256/201 for pcap(ng), 1002/2001 for btsnoop (defaults 256 and 1002).
        nanosecond: pcap with nanosecond time stamps (magic 0xA1B23C4D); pcapng if_tsresol 9.
        byte_order: "<" (little-endian, the default) or ">" for pcap/pcapng headers.
        channel: advertising channel 37/38/39 for LL link types; None rotates 37, 38, 39.
        crc_checked: link type 256 only: False leaves the PHDR's "CRC checked" flag clear.
        nordic_version: link type 272 only: the nRF Sniffer header version (0-3).
        private: create the file exclusively (never overwrite) and readable by its owner only
            (0600), for records of live scans (they hold identifiers).
    """

    def __init__(
        self,
        path: str | Path,
        fmt: Format = "pcap",
        *,
        linktype: int | None = None,
        nanosecond: bool = False,
        byte_order: ByteOrder = "<",
        channel: int | None = None,
        crc_checked: bool = True,
        nordic_version: int = 3,
        private: bool = False,
    ) -> None:
        if fmt not in ("pcap", "pcapng", "btsnoop", "jsonl"):
            raise ValueError(f"unknown capture format {fmt!r}")
        self.fmt = fmt
        self.linktype = linktype if linktype is not None else _DEFAULT_LINKTYPE.get(fmt, 0)
        if fmt != "jsonl" and self.linktype not in _LINKTYPES_FOR[fmt]:
            raise ValueError(f"{fmt} cannot carry link type {self.linktype}")
        if channel is not None and channel not in _ADV_CHANNELS:
            raise ValueError("advertising channel must be 37, 38 or 39")
        self._ns = nanosecond
        self._bo = byte_order
        self._channel = channel
        self._crc_checked = crc_checked
        self._nordic_version = nordic_version
        self._n = 0
        self._need_index = False
        if private:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o600)
            self._f: BinaryIO = os.fdopen(fd, "wb")
        else:
            self._f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.packets = 0
        self._header()

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._f.close()

    def write(self, advert: RawAdvert, address_type: AddressType = "random") -> None:
        """Write one advert (and its scan response as a second packet, if it has one)."""
        if self.fmt == "jsonl":
            self._f.write(_jsonl_line(advert, address_type))
            self.packets += 1
            return
        for t, kind, data in _packets(advert):
            self._record(t, self._frame(kind, advert, data, address_type))

    def write_all(
        self, adverts: Iterable[RawAdvert], address_type: AddressTypeFor = "random"
    ) -> int:
        """Write every RawAdvert of an iterable; returns how many adverts were written.

        `address_type` is one type for all, or a function of the advert (per-device types).
        """
        n = 0
        for a in adverts:
            self.write(a, address_type if isinstance(address_type, str) else address_type(a))
            n += 1
        return n

    def write_frame(self, t: float, frame: bytes, *, orig_len: int | None = None) -> None:
        """Write an already-encoded frame (tests use it for corrupt and non-advert records)."""
        self._record(t, frame, orig_len=orig_len)

    def _frame(self, kind: PduKind, advert: RawAdvert, data: bytes, atype: AddressType) -> bytes:
        lt = self.linktype
        if lt in _LL_TYPES:
            pkt = ll_packet(kind, advert.address, data, address_type=atype)
            if lt == LINKTYPE_BLE_LL:
                return pkt
            channel = self._channel or _ADV_CHANNELS[self._n % 3]
            self._n += 1
            if lt == LINKTYPE_NORDIC_BLE:
                head = nordic_header(
                    self._nordic_version, len(pkt), channel=channel, rssi_dbm=advert.rssi_dbm,
                    counter=self._n, time_us=_ticks(advert.t, 1_000_000),
                )  # fmt: skip
                return head + pkt
            return le_phdr(channel, advert.rssi_dbm, crc_checked=self._crc_checked) + pkt
        event = hci_adv_report(kind, advert.address, data, advert.rssi_dbm, address_type=atype)
        if lt == LINKTYPE_HCI_H4_PHDR:
            return struct.pack(">I", 1) + bytes((HCI_EVENT_PKT,)) + event  # direction 1 = received
        if lt == BTSNOOP_H4:
            return bytes((HCI_EVENT_PKT,)) + event
        return event  # btsnoop 2001: the opcode in the record flags says "event"

    def _header(self) -> None:
        bo, f = self._bo, self._f
        if self.fmt == "pcap":
            magic = PCAP_MAGIC_NS if self._ns else PCAP_MAGIC_US
            f.write(struct.pack(bo + "IHHiIII", magic, 2, 4, 0, 0, 65535, self.linktype))
        elif self.fmt == "pcapng":
            shb_body = struct.pack(bo + "IHHq", PCAPNG_BOM, 1, 0, -1)
            f.write(_block(bo, PCAPNG_SHB, shb_body))
            opts = b""
            if self._ns:
                opts = struct.pack(bo + "HH", PCAPNG_OPT_TSRESOL, 1) + b"\x09\x00\x00\x00"
                opts += struct.pack(bo + "HH", 0, 0)
            f.write(_block(bo, PCAPNG_IDB, struct.pack(bo + "HHI", self.linktype, 0, 0) + opts))
        elif self.fmt == "btsnoop":
            f.write(BTSNOOP_MAGIC + struct.pack(">II", 1, self.linktype))
            self._need_index = self.linktype == BTSNOOP_MONITOR

    def _record(self, t: float, frame: bytes, *, orig_len: int | None = None) -> None:
        self.packets += 1
        olen = len(frame) if orig_len is None else orig_len
        bo = self._bo
        if self.fmt == "pcap":
            scale = 1_000_000_000 if self._ns else 1_000_000
            sec, frac = divmod(_ticks(t, scale), scale)
            self._f.write(struct.pack(bo + "IIII", sec, frac, len(frame), olen) + frame)
        elif self.fmt == "pcapng":
            ticks = _ticks(t, 1_000_000_000 if self._ns else 1_000_000)
            head = struct.pack(bo + "IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), olen)
            self._f.write(_block(bo, PCAPNG_EPB, head + frame))
        elif self.linktype == BTSNOOP_MONITOR:
            if self._need_index:
                # "New index" for hci0 (primary controller, virtual bus) before its first event,
                # as `btmon -w` writes it; readers use it to know index 0 exists.
                new_index = bytes((0, 0)) + bytes(6) + b"hci0".ljust(8, b"\x00")
                self._btsnoop_record(t, new_index, MONITOR_NEW_INDEX, None)
                self._need_index = False
            self._btsnoop_record(t, frame, MONITOR_EVENT, olen)
        else:
            self._btsnoop_record(t, frame, 3, olen)  # bit0 received, bit1 command/event

    def _btsnoop_record(self, t: float, frame: bytes, flags: int, olen: int | None) -> None:
        ts = _ticks(t, 1_000_000) + BTSNOOP_EPOCH_US
        olen = len(frame) if olen is None else olen
        self._f.write(struct.pack(">IIIIq", olen, len(frame), flags, 0, ts) + frame)


def _ticks(t: float, scale: int) -> int:
    # Split first: t * 1e9 does not fit a double's 53-bit mantissa, the fraction alone does.
    whole = int(t // 1)
    return whole * scale + round((t - whole) * scale)


def _block(bo: str, block_type: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    total = len(body) + 12
    return struct.pack(bo + "II", block_type, total) + body + struct.pack(bo + "I", total)


def _jsonl_line(advert: RawAdvert, address_type: AddressType) -> bytes:
    obj = {
        "t": advert.t,
        "address": advert.address,
        "address_type": address_type,
        "rssi": advert.rssi_dbm,
        "adv": advert.adv.hex(),
        "scan_rsp": None if advert.scan_rsp is None else advert.scan_rsp.hex(),
        "pdu": advert.pdu.value,
    }
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def write_capture(
    path: str | Path,
    adverts: Iterable[RawAdvert],
    fmt: Format = "pcap",
    *,
    linktype: int | None = None,
    address_type: AddressTypeFor = "random",
    nanosecond: bool = False,
    byte_order: ByteOrder = "<",
    channel: int | None = None,
    crc_checked: bool = True,
    nordic_version: int = 3,
) -> int:
    """Write adverts to a new capture file in one call; returns how many were written."""
    with CaptureWriter(
        path, fmt, linktype=linktype, nanosecond=nanosecond, byte_order=byte_order,
        channel=channel, crc_checked=crc_checked, nordic_version=nordic_version,
    ) as w:  # fmt: skip
        return w.write_all(adverts, address_type)
