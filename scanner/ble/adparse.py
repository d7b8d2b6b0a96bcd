"""Raw advertising data (AD structures) -> fields, bounds-checked and never raising (pure).

Layout: a sequence of [length][type][data...] structures (Core Spec Vol 3 Part C §11);
multi-byte UUIDs are little-endian on air (docs/protocol.md §2). Parsing stops at a zero length or
an
overrun and keeps what parsed before, like BlueZ does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

# AD types (Bluetooth Assigned Numbers, "Common Data Types").
FLAGS: Final = 0x01
UUID16_INCOMPLETE: Final = 0x02
UUID16_COMPLETE: Final = 0x03
UUID32_INCOMPLETE: Final = 0x04
UUID32_COMPLETE: Final = 0x05
UUID128_INCOMPLETE: Final = 0x06
UUID128_COMPLETE: Final = 0x07
NAME_SHORT: Final = 0x08
NAME_COMPLETE: Final = 0x09
TX_POWER: Final = 0x0A
SERVICE_DATA16: Final = 0x16
APPEARANCE: Final = 0x19
SERVICE_DATA32: Final = 0x20
SERVICE_DATA128: Final = 0x21
MANUFACTURER: Final = 0xFF

BASE_UUID_SUFFIX: Final = "-0000-1000-8000-00805f9b34fb"
_UUID_WIDTH = {
    UUID16_INCOMPLETE: 2, UUID16_COMPLETE: 2, UUID32_INCOMPLETE: 4, UUID32_COMPLETE: 4,
    UUID128_INCOMPLETE: 16, UUID128_COMPLETE: 16,
}  # fmt: skip
_SD_WIDTH = {SERVICE_DATA16: 2, SERVICE_DATA32: 4, SERVICE_DATA128: 16}


def short_uuid(value: int) -> str:
    """A 16- or 32-bit UUID expanded over the Bluetooth base UUID, lowercase."""
    return f"{value:08x}{BASE_UUID_SUFFIX}"


def uuid_from_le(raw: bytes) -> str:
    """UUID string from its on-air (little-endian) bytes of width 2, 4 or 16."""
    if len(raw) != 16:
        return short_uuid(int.from_bytes(raw, "little"))
    h = raw[::-1].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid_to_le(uuid: str | int) -> bytes:
    """On-air bytes of a UUID: 2 bytes for base-UUID 16-bit values, 4 for 32-bit, else 16."""
    if isinstance(uuid, int):
        value = uuid
    else:
        text = uuid.lower().replace("-", "")
        if len(text) == 32 and not text.endswith(BASE_UUID_SUFFIX.replace("-", "")):
            return bytes.fromhex(text)[::-1]
        value = int(text[:8] if len(text) == 32 else text, 16)
    return value.to_bytes(2 if value <= 0xFFFF else 4, "little")


def iter_ad(data: bytes) -> list[tuple[int, bytes]]:
    """(type, data) of each well-formed AD structure; stops at length 0 or overrun."""
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(data)
    while i < n:
        length = data[i]
        if length == 0 or i + 1 + length > n:
            break
        out.append((data[i + 1], data[i + 2 : i + 1 + length]))
        i += 1 + length
    return out


@dataclass(frozen=True, slots=True)
class AdFields:
    """What one advert (merged with its scan response) says, in the shape bleak reports it.

    `manufacturer_data` keeps BlueZ semantics (one payload per company, later wins); the
    classifier uses `manufacturer_all`, which keeps every payload, because a 2025 iPhone sends
    Nearby Info in the advert and the overflow area in the scan response, both as company 0x004C
    (docs/protocol.md §2.6).
    """

    local_name: str | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    service_uuids: tuple[str, ...] = ()
    tx_power: int | None = None
    flags: int | None = None
    appearance: int | None = None
    manufacturer_all: tuple[tuple[int, bytes], ...] = ()
    structures: int = 0  # well-formed AD structures seen (adv + scan response)
    truncated: bool = False  # parsing stopped early on an overrun in either part


def parse_ad(adv: bytes, scan_rsp: bytes | None = None) -> AdFields:
    """Parse advertising data and merge an optional scan response the way BlueZ does."""
    name: str | None = None
    name_complete = False
    mfr: dict[int, bytes] = {}
    mfr_all: list[tuple[int, bytes]] = []
    sdata: dict[str, bytes] = {}
    uuids: list[str] = []
    tx: int | None = None
    flags: int | None = None
    appearance: int | None = None
    count = 0
    truncated = False
    for part in (adv, scan_rsp):
        if not part:
            continue
        structures = iter_ad(part)
        count += len(structures)
        truncated = truncated or _overran(part)
        for ad_type, d in structures:
            if ad_type == MANUFACTURER:
                if len(d) >= 2:
                    company = d[0] | d[1] << 8
                    mfr[company] = d[2:]
                    mfr_all.append((company, d[2:]))
            elif ad_type in _UUID_WIDTH:
                w = _UUID_WIDTH[ad_type]
                for j in range(0, len(d) - w + 1, w):
                    u = uuid_from_le(d[j : j + w])
                    if u not in uuids:
                        uuids.append(u)
            elif ad_type in _SD_WIDTH:
                w = _SD_WIDTH[ad_type]
                if len(d) >= w:
                    sdata[uuid_from_le(d[:w])] = d[w:]
            elif ad_type == NAME_COMPLETE or (ad_type == NAME_SHORT and not name_complete):
                name = d.decode("utf-8", "replace")
                name_complete = ad_type == NAME_COMPLETE
            elif ad_type == TX_POWER and len(d) == 1:
                tx = d[0] - 256 if d[0] > 127 else d[0]
            elif ad_type == FLAGS and len(d) >= 1:
                flags = d[0]
            elif ad_type == APPEARANCE and len(d) == 2:
                appearance = d[0] | d[1] << 8
    return AdFields(
        local_name=name,
        manufacturer_data=mfr,
        service_data=sdata,
        service_uuids=tuple(uuids),
        tx_power=tx,
        flags=flags,
        appearance=appearance,
        manufacturer_all=tuple(mfr_all),
        structures=count,
        truncated=truncated,
    )


def _overran(part: bytes) -> bool:
    # True when parsing stopped on a structure claiming more bytes than remain (not zero padding).
    i, n = 0, len(part)
    while i < n:
        length = part[i]
        if length == 0:
            return False
        if i + 1 + length > n:
            return True
        i += 1 + length
    return False


def ad(ad_type: int, data: bytes) -> bytes:
    """One AD structure; raises ValueError if it cannot fit the 1-byte length."""
    if not 0 <= ad_type <= 0xFF or len(data) > 254:
        raise ValueError("AD structure too long or bad type")
    return bytes((len(data) + 1, ad_type)) + data


def build_ad(
    *,
    flags: int | None = None,
    local_name: str | None = None,
    short_name: bool = False,
    manufacturer_data: Mapping[int, bytes] | Iterable[tuple[int, bytes]] = (),
    tx_power: int | None = None,
    service_uuids: Iterable[str | int] = (),
    service_data: Mapping[str, bytes]
    | Mapping[int, bytes]
    | Iterable[tuple[str | int, bytes]] = (),
    appearance: int | None = None,
    extra: Iterable[tuple[int, bytes]] = (),
) -> bytes:
    """AD bytes from fields in AOSP order: flags, name, manufacturer, TX power, UUIDs, service data.

    For tests and the simulator; 16-bit base UUIDs go in a 0x03 list, 32-bit in 0x05, else 0x07.
    """
    out = bytearray()
    if flags is not None:
        out += ad(FLAGS, bytes((flags,)))
    if local_name is not None:
        out += ad(NAME_SHORT if short_name else NAME_COMPLETE, local_name.encode())
    pairs = (
        manufacturer_data.items() if isinstance(manufacturer_data, Mapping) else manufacturer_data
    )
    for company, payload in pairs:
        out += ad(MANUFACTURER, company.to_bytes(2, "little") + payload)
    if tx_power is not None:
        out += ad(TX_POWER, (tx_power & 0xFF).to_bytes(1, "little"))
    groups: dict[int, bytes] = {}
    for u in service_uuids:
        raw = uuid_to_le(u)
        t = {2: UUID16_COMPLETE, 4: UUID32_COMPLETE}.get(len(raw), UUID128_COMPLETE)
        groups[t] = groups.get(t, b"") + raw
    for t in (UUID16_COMPLETE, UUID32_COMPLETE, UUID128_COMPLETE):
        if t in groups:
            out += ad(t, groups[t])
    sd: Iterable[tuple[str | int, bytes]] = (
        service_data.items() if isinstance(service_data, Mapping) else service_data
    )
    for u, payload in sd:
        raw = uuid_to_le(u)
        t = {2: SERVICE_DATA16, 4: SERVICE_DATA32}.get(len(raw), SERVICE_DATA128)
        out += ad(t, raw + payload)
    if appearance is not None:
        out += ad(APPEARANCE, appearance.to_bytes(2, "little"))
    for t, payload in extra:
        out += ad(t, payload)
    return bytes(out)
