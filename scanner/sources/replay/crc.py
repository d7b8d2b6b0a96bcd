"""BLE advertising-channel CRC-24: compute it for writers, verify it for readers (pure).

Core Spec Vol 6 Part B §3.1.1: polynomial x^24+x^10+x^9+x^6+x^4+x^3+x+1, shift register preset
to 0x555555 on the advertising channels, PDU bits shifted in LSB first, the CRC sent after the
PDU. In the LSB-first (reflected) register the feedback mask is 0xDA6000 and the preset is
0x555555 bit-reversed; the register's final state goes on air little-endian, so a frame whose
PDU + CRC bytes run through the register again leaves it at 0.

Speed: a sniffer capture is mostly the same frames again (each advert on three channels, the
same payload for minutes), so frames already verified are remembered (`CrcCheck`); new ones go
through anycrc (a C table-driven CRC, ~0.3 µs a frame) where it is installed, else through the
256-entry table below (~6 µs a frame in CPython; only on platforms anycrc has no wheel for).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

ADV_CRC_INIT: Final = 0x555555
_FEEDBACK: Final = 0xDA6000
_CACHE_MAX: Final = 65536


def _table() -> tuple[int, ...]:
    out = []
    for i in range(256):
        state = i
        for _ in range(8):
            state = (state >> 1) ^ (_FEEDBACK if state & 1 else 0)
        out.append(state)
    return tuple(out)


_TABLE: Final = _table()


def _reverse_byte(b: int) -> int:
    return int(f"{b:08b}"[::-1], 2)


def register_init(init: int = ADV_CRC_INIT) -> int:
    """The spec's CRC preset as the LSB-first register holds it."""
    return (
        _reverse_byte(init & 0xFF)
        | _reverse_byte((init >> 8) & 0xFF) << 8
        | _reverse_byte((init >> 16) & 0xFF) << 16
    )


_INIT: Final = register_init()


def crc24_table(data: bytes, init: int = _INIT) -> int:
    """The register after `data`, by the byte table (the reference; no dependency)."""
    state = init
    table = _TABLE
    for byte in data:
        state = (state >> 8) ^ table[(state ^ byte) & 0xFF]
    return state


def _anycrc() -> Callable[[bytes], int] | None:
    try:
        import anycrc
    except ImportError:
        return None
    model = anycrc.Model("CRC24-BLE")  # width 24, poly 0x65B, init 0x555555, reflected in/out
    calc: Callable[[bytes], int] = model.calc
    if calc(b"123456789") != 0xC25A56 or calc(b"\x00") != crc24_table(b"\x00"):
        return None  # not the CRC this module means: use the table
    return calc


_FAST: Final = _anycrc()
crc24: Callable[[bytes], int] = _FAST if _FAST is not None else crc24_table


def ble_crc24(pdu: bytes) -> bytes:
    """CRC-24 over an advertising PDU (header + payload), as the 3 bytes that follow it on air."""
    return crc24(pdu).to_bytes(3, "little")


class CrcCheck:
    """Verifies PDU + CRC frames, remembering the good ones (bounded; dropped with the reader)."""

    __slots__ = ("absent", "crc", "good", "verified")

    def __init__(self, crc: Callable[[bytes], int] = crc24) -> None:
        self.crc = crc
        # Good frames only: a corrupted frame never enters, so a hit is always a valid CRC.
        self.good: set[bytes] = set()
        self.verified = 0  # frames whose CRC was verified here (the callers count)
        self.absent = 0  # frames that came without their CRC: accepted unchecked

    def ok(self, frame: bytes) -> bool:
        """True when `frame` (PDU header, payload, 3 CRC bytes) has a valid CRC."""
        good = self.good
        if frame in good:
            return True
        if self.crc(frame):
            return False
        if len(good) >= _CACHE_MAX:
            good.clear()
        good.add(frame)
        return True
