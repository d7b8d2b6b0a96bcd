"""`bzscan --record FILE`: what a live scan saw, as a capture `--replay` reads back the same.

The one file the project writes that holds identifiers (addresses, Bluezone IDs, RPIs): made
only when asked, created exclusively and readable by its owner only (0600), its path printed
with a warning (docs/architecture.md §9).

bleak hands over parsed adverts (BlueZ's Device1 view), not the bytes on air, so each advert is
written as the AD structures that carry exactly what the classifier reads from it: manufacturer
data per company, service UUIDs, service data, local name, TX power (`ad_bytes`); BlueZ reports
no Flags or Appearance, so none are invented. Formats, by the file name:
- `*.jsonl`: the project's JSONL (one host-level advert per line, `scanner.sources.replay.write`);
- anything else: pcapng, LINKTYPE 201 (HCI H4 with the direction pseudo-header), nanosecond
  time stamps, one LE Extended Advertising Report per advert (up to 229 AD bytes, enough for a
  legacy advert merged with its scan response; structures beyond that are left out and counted).
Replayed, a record gives the windows the live run counted (tests/live/test_record.py).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from types import TracebackType
from typing import Final

from scanner.ble.adparse import (
    MANUFACTURER,
    NAME_COMPLETE,
    SERVICE_DATA16,
    SERVICE_DATA32,
    SERVICE_DATA128,
    TX_POWER,
    UUID16_COMPLETE,
    UUID32_COMPLETE,
    UUID128_COMPLETE,
    ad,
    uuid_to_le,
)
from scanner.ble.advert import Advert, PduKind, RawAdvert
from scanner.sources.replay.encode import hci_ext_adv_report
from scanner.sources.replay.formats import HCI_EVENT_PKT, LINKTYPE_HCI_H4_PHDR
from scanner.sources.replay.write import CaptureWriter

MAX_AD_BYTES: Final = 229  # one HCI event: 255 - subevent, report count, 24-byte report header
_MAC_RE: Final = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_UUID_AD: Final = {2: UUID16_COMPLETE, 4: UUID32_COMPLETE, 16: UUID128_COMPLETE}
_SD_AD: Final = {2: SERVICE_DATA16, 4: SERVICE_DATA32, 16: SERVICE_DATA128}
_RECEIVED: Final = struct.pack(">I", 1)  # H4 PHDR direction: received by the host


class RecordError(OSError):
    """The record file cannot be created (it exists, or its folder is not writable)."""


def ad_structures(advert: Advert) -> list[bytes]:
    """The AD structures that say what `advert` says, in the order the classifier reads them."""
    out: list[bytes] = []
    if advert.local_name is not None:
        out.append(ad(NAME_COMPLETE, advert.local_name.encode("utf-8")[:254]))
    for company, payload in advert.manufacturer_data.items():
        if 0 <= company <= 0xFFFF and len(payload) <= 252:
            out.append(ad(MANUFACTURER, company.to_bytes(2, "little") + bytes(payload)))
    if advert.tx_power is not None:
        out.append(ad(TX_POWER, (max(-127, min(127, advert.tx_power)) & 0xFF).to_bytes(1)))
    groups: dict[int, list[bytes]] = {}
    for u in advert.service_uuids:
        raw = _uuid(u)
        if raw is not None:
            groups.setdefault(len(raw), []).append(raw)
    for width in (2, 4, 16):
        raws = groups.get(width, [])
        per = 254 // width
        for i in range(0, len(raws), per):
            out.append(ad(_UUID_AD[width], b"".join(raws[i : i + per])))
    for key, payload in advert.service_data.items():
        raw = _uuid(key)
        if raw is not None and len(raw) + len(payload) <= 254:
            out.append(ad(_SD_AD[len(raw)], raw + bytes(payload)))
    return out


def ad_bytes(advert: Advert, limit: int = MAX_AD_BYTES) -> tuple[bytes, int]:
    """AD bytes for `advert` (at most `limit`), and how many structures did not fit."""
    data = b""
    left_out = 0
    for s in ad_structures(advert):
        if len(data) + len(s) <= limit:
            data += s
        else:
            left_out += 1
    return data, left_out


def _uuid(u: str) -> bytes | None:
    try:
        return uuid_to_le(u)
    except ValueError:
        return None


class Recorder:
    """Writes every advert of a live scan to `path` (module docstring); a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.jsonl = self.path.suffix.lower() == ".jsonl"
        self.adverts = 0
        self.left_out = 0  # AD structures beyond one report's 229 bytes (pcapng only)
        self.skipped = 0  # adverts whose address is no Bluetooth address (macOS gives UUIDs)
        try:
            if self.jsonl:
                self._w = CaptureWriter(self.path, "jsonl", private=True)
            else:
                self._w = CaptureWriter(
                    self.path, "pcapng", linktype=LINKTYPE_HCI_H4_PHDR, nanosecond=True,
                    private=True,
                )  # fmt: skip
        except FileExistsError as exc:
            raise RecordError(f"{self.path} exists: choose another name or delete it") from exc
        except OSError as exc:
            raise RecordError(f"cannot create {self.path}: {exc.strerror or exc}") from exc

    def write(self, advert: Advert) -> None:
        if not _MAC_RE.match(advert.address):
            self.skipped += 1
            return
        rssi = advert.rssi_dbm
        if self.jsonl:
            data, _ = ad_bytes(advert, limit=1 << 30)
            self._w.write(RawAdvert(advert.t, advert.address, rssi, data, None, PduKind.UNKNOWN))
        else:
            data, left_out = ad_bytes(advert)
            self.left_out += left_out
            event = hci_ext_adv_report(advert.address, data, rssi, address_type="random")
            self._w.write_frame(advert.t, _RECEIVED + bytes((HCI_EVENT_PKT,)) + event)
        self.adverts += 1

    def close(self) -> None:
        self._w.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
