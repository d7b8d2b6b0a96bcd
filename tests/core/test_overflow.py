"""Apple overflow-area bit (CRC-8 poly 0x09, protocol.md §3) against every published data point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.ble.overflow import crc8, overflow_bit, uuid_bytes
from scanner.ble.signatures import load_signatures

DGY = json.loads((Path(__file__).parent.parent / "data" / "overflow-dgy-table.json").read_text())


def test_dgy_table_all_128_positions() -> None:
    table = DGY["last_byte_by_position"]
    assert len(table) == 128
    for position, last in enumerate(table):
        byte, bit = overflow_bit(f"00000000-0000-0000-0000-0000000000{last}")
        # DGY numbers bits MSB-first inside a byte (see the data file's note).
        assert (byte, bit) == (position // 8, 0x80 >> (position % 8)), (position, last)


@pytest.mark.parametrize(
    ("uuid", "crc", "byte", "bit"),
    [
        ("9AA4730F-B25C-4CC3-B821-C931559FC196", 0x42, 8, 0x04),  # DGY Apple Watch, position 69
        (0x3333, 0xB9, 7, 0x02),  # CROWN sniffs (0x3333 and 0x1001 collide)
        (0x1001, 0xB9, 7, 0x02),
        (0xC007, 0x24, 4, 0x10),
        (0xC008, 0x3B, 7, 0x08),
        ("00004E56-73F5-4BC4-A12F-17D1AD07A667", 0x83, 0, 0x08),  # Bluezone v2 (RNBS mask)
        ("E20A39F4-73F5-4BC4-A12F-17D1AD07A667", 0xD7, 10, 0x80),  # Bluezone v1 (RNBS mask)
        ("F47B5E2D-4A9E-4C5A-9B3F-8E1D2C3A4B5C", 0xE7, 12, 0x80),  # bitchat, 105 BMESH SCAN_RSPs
    ],
)
def test_published_bits(uuid: str | int, crc: int, byte: int, bit: int) -> None:
    assert crc8(uuid_bytes(uuid)) == crc
    assert overflow_bit(uuid) == (byte, bit)


def test_dgy_position_69_is_the_apple_watch_bit() -> None:
    assert overflow_bit("9aa4730f-b25c-4cc3-b821-c931559fc196") == (69 // 8, 0x80 >> (69 % 8))


def test_short_forms_equal_the_expanded_uuid() -> None:
    assert (
        uuid_bytes("4E56")
        == uuid_bytes(0x4E56)
        == uuid_bytes("00004e56-0000-1000-8000-00805f9b34fb")
    )
    assert uuid_bytes("0x3333") == uuid_bytes(0x3333)


@pytest.mark.parametrize("u", [0x1813, 0x1865, 0xFD97, 0xFDE1, 0xFE8C, 0xFEFA, 0xFF85, 0xFFF3])
def test_uuids_colliding_with_the_bluezone_v2_bit(u: int) -> None:
    assert overflow_bit(u) == (0, 0x08)  # protocol.md §3: why R6 is probabilistic


def test_signature_file_compiles_overflow_uuids_to_the_bluezone_masks() -> None:
    table = load_signatures()
    bits = {s.name: s.match.overflow[1:] for s in table.signatures if s.match.overflow is not None}
    assert bits == {"bz_ios_v2_bg": (0, 0x08), "bz_ios_v1_bg": (10, 0x80)}
