"""Advertising bytes -> BlueZ Device1 properties, the way bluetoothd's eir.c maps them."""

from __future__ import annotations

from dataclasses import dataclass, field

BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def uuid16(value: int) -> str:
    return f"0000{value:04x}{BASE_UUID_SUFFIX}"


def uuid32(value: int) -> str:
    return f"{value:08x}{BASE_UUID_SUFFIX}"


def uuid128_le(raw: bytes) -> str:
    h = raw[::-1].hex()  # 128-bit UUIDs are little-endian on the air
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(slots=True)
class EirData:
    """What one PDU carries, in BlueZ's terms."""

    flags: bytes | None = None
    uuids: list[str] = field(default_factory=list)
    name: str | None = None
    name_complete: bool = False
    tx_power: int | None = None
    appearance: int | None = None
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    service_data: dict[str, bytes] = field(default_factory=dict)


def split_ltv(data: bytes) -> list[tuple[int, bytes]]:
    """AD structures as (type, value); a zero length or a truncated structure ends parsing."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        length = data[i]
        if length == 0 or i + 1 + length > len(data):
            break
        out.append((data[i + 1], bytes(data[i + 2 : i + 1 + length])))
        i += 1 + length
    return out


def parse(data: bytes, into: EirData | None = None) -> EirData:
    eir = into if into is not None else EirData()
    for ad_type, value in split_ltv(data):
        if ad_type == 0x01 and value:
            eir.flags = value[:1]
        elif ad_type in (0x02, 0x03):
            for j in range(0, len(value) - 1, 2):
                _add(eir.uuids, uuid16(int.from_bytes(value[j : j + 2], "little")))
        elif ad_type in (0x04, 0x05):
            for j in range(0, len(value) - 3, 4):
                _add(eir.uuids, uuid32(int.from_bytes(value[j : j + 4], "little")))
        elif ad_type in (0x06, 0x07):
            for j in range(0, len(value) - 15, 16):
                _add(eir.uuids, uuid128_le(value[j : j + 16]))
        elif ad_type in (0x08, 0x09):
            complete = ad_type == 0x09
            if eir.name is None or complete or not eir.name_complete:
                eir.name = value.decode("utf-8", "replace").rstrip("\x00")
                eir.name_complete = complete
        elif ad_type == 0x0A and value:
            eir.tx_power = int.from_bytes(value[:1], "little", signed=True)
        elif ad_type == 0x19 and len(value) >= 2:
            eir.appearance = int.from_bytes(value[:2], "little")
        elif ad_type == 0x16 and len(value) >= 2:
            eir.service_data[uuid16(int.from_bytes(value[:2], "little"))] = value[2:]
        elif ad_type == 0x20 and len(value) >= 4:
            eir.service_data[uuid32(int.from_bytes(value[:4], "little"))] = value[4:]
        elif ad_type == 0x21 and len(value) >= 16:
            eir.service_data[uuid128_le(value[:16])] = value[16:]
        elif ad_type == 0xFF and len(value) >= 2:
            eir.manufacturer_data[int.from_bytes(value[:2], "little")] = value[2:]
    return eir


def _add(items: list[str], uuid: str) -> None:
    if uuid not in items:
        items.append(uuid)


def pattern_matches(adv: bytes, patterns: list[tuple[int, int, bytes]]) -> bool:
    """BlueZ or-pattern semantics (src/shared/ad.c): an AD of `ad_type` has `content` at `start`."""
    structures = split_ltv(adv)
    for start, ad_type, content in patterns:
        for t, value in structures:
            if t == ad_type and value[start : start + len(content)] == content:
                return True
    return False
