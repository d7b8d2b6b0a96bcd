"""Apple overflow-area bit for a service UUID (pure; docs/protocol.md §3, derived and checked
there).
"""

from __future__ import annotations

import uuid as _uuid
from typing import Final

_BASE_TAIL: Final = bytes.fromhex(
    "00001000800000805f9b34fb"
)  # Bluetooth base UUID after the short part
_POLY: Final = 0x09  # x^8 + x^3 + 1


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        c = byte
        for _ in range(8):
            c = ((c << 1) ^ _POLY) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        table.append(c)
    return tuple(table)


_TABLE: Final = _crc8_table()


def crc8(data: bytes) -> int:
    """CRC-8, poly 0x09, init 0, MSB first, no reflection, no final XOR."""
    c = 0
    for b in data:
        c = _TABLE[c ^ b]
    return c


def uuid_bytes(uuid: str | int) -> bytes:
    """The 16 canonical (big-endian) bytes of a UUID; ints and 4/8 hex digits use the base UUID."""
    if isinstance(uuid, int):
        if not 0 <= uuid <= 0xFFFFFFFF:
            raise ValueError(f"short UUID out of range: {uuid:#x}")
        return uuid.to_bytes(4, "big") + _BASE_TAIL
    text = uuid.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if len(text) in (4, 8) and all(ch in "0123456789abcdef" for ch in text):
        return int(text, 16).to_bytes(4, "big") + _BASE_TAIL
    return _uuid.UUID(text).bytes


def overflow_bit(uuid: str | int) -> tuple[int, int]:
    """(byte index 0..15 of the 16-byte bitmask, bit value) that iOS sets for `uuid`.

    CRC-8 over the big-endian UUID; bits 6..3 pick the byte, bits 2..0 the bit; bit 7 is ignored
    (docs/protocol.md §3: reproduces DGY's 128-entry table and the Bluezone masks).
    """
    c = crc8(uuid_bytes(uuid))
    return (c >> 3) & 0x0F, 1 << (c & 7)
