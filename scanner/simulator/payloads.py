"""On-air AD bytes for every kind of simulated advertiser (pure; layouts from docs/protocol.md).

The simulator cannot import the test factory (tests are not packaged), so these builders repeat
the layouts of docs/protocol.md §2 and §4 from `scanner.ble.adparse.build_ad`.
Each returns the advert and
the scan response (None: the device sends none, or only an empty one).
"""

from __future__ import annotations

from typing import Final

from scanner.ble.adparse import ad, build_ad
from scanner.ble.overflow import overflow_bit

BZ_COMPANY: Final = 0x22B5  # docs/protocol.md §2.1/2.2, not SIG-assigned
APPLE: Final = 0x004C
BZ_UUID16: Final = 0x4E56
BZ_ANDROID_V1_UUID: Final = "E20A39F4-73F5-4BC4-A12F-17D1AD07A889"
BZ_IOS_V2_UUID: Final = "00004E56-73F5-4BC4-A12F-17D1AD07A667"
BZ_IBEACON: Final = bytes.fromhex("C7AFEF7B17884F4AA87D691D53BF21C4") + bytes.fromhex("00140014c5")
# Second byte of an iPhone's 6-byte Nearby Info value (data flags). Watch (0x18/0x98) and Mac/TV
# (0x04/0x09/0x14/0x1C/0x1F) values are avoided: the signatures demote those (docs/protocol.md
# §4.1).
IPHONE_NEARBY_FLAGS: Final = (0x1E, 0x19, 0x1B, 0x1A)
_HANDOFF: Final = bytes.fromhex("00c857ac085510515d52cf386221")
# Bluezone v2 iOS overflow bit (docs/protocol.md §3: CRC-8 0x83 -> byte 0 value 0x08) and v1's.
BZ_V2_BIT: Final = overflow_bit(BZ_IOS_V2_UUID)
BZ_V1_BIT: Final = overflow_bit("E20A39F4-73F5-4BC4-A12F-17D1AD07A667")


def _apple(*tlvs: tuple[int, bytes]) -> bytes:
    return b"".join(bytes((t, len(v))) + v for t, v in tlvs)


def bz_android_v2(bz_id: bytes) -> bytes:
    """A2: Flags 0x02, company 0x22B5 + 12-byte rolling ID, UUID16 0x4E56 (docs/protocol.md
    §2.2).
    """
    return build_ad(flags=0x02, manufacturer_data={BZ_COMPANY: bz_id}, service_uuids=[BZ_UUID16])


def bz_android_v1(blid: str) -> bytes:
    """A1: static 6-char BLID next to the v1 128-bit UUID (docs/protocol.md §2.1)."""
    return build_ad(
        flags=0x02,
        manufacturer_data={BZ_COMPANY: blid.encode()},
        service_uuids=[BZ_ANDROID_V1_UUID],
    )


def bz_ibeacon() -> bytes:
    """A3: the iBeacon companion, non-connectable, no Flags (docs/protocol.md §2.3)."""
    return ad(0xFF, APPLE.to_bytes(2, "little") + _apple((0x02, BZ_IBEACON)))


def bz_ios_fg() -> bytes:
    """I2-fg: iOS Flags, the v2 iOS UUID and the name "Bluezone" (docs/protocol.md §2.5)."""
    return build_ad(flags=0x1A, service_uuids=[BZ_IOS_V2_UUID], local_name="Bluezone")


def overflow_area(mask: bytes) -> bytes:
    """Apple manufacturer data `4C 00 01` + the 16-byte bitmask (docs/protocol.md §2.6)."""
    return ad(0xFF, APPLE.to_bytes(2, "little") + b"\x01" + mask)


def overflow_mask(uuids: list[str]) -> bytes:
    mask = bytearray(16)
    for u in uuids:
        i, bit = overflow_bit(u)
        mask[i] |= bit
    return bytes(mask)


def mask_has_bluezone_bit(mask: bytes) -> bool:
    """Whether an overflow bitmask carries either Bluezone bit (R6/R7 would fire)."""
    return bool(mask[BZ_V2_BIT[0]] & BZ_V2_BIT[1] or mask[BZ_V1_BIT[0]] & BZ_V1_BIT[1])


def iphone_nearby(nearby: bytes, *, handoff: bool = False) -> bytes:
    """Nearby Info (0x10, 6 bytes), Flags 0x1A, TX power 12 dBm as in BMESH (docs/protocol.md
    §4.1).
    """
    tlvs = [(0x10, nearby)]
    if handoff:
        tlvs.insert(0, (0x0C, _HANDOFF))
    return build_ad(flags=0x1A, tx_power=12) + ad(0xFF, b"\x4c\x00" + _apple(*tlvs))


def iphone_overflow_adv(mask: bytes) -> bytes:
    """A background iPhone's overflow-area ADV_IND (CROWN form, docs/protocol.md §2.6)."""
    return build_ad(flags=0x1A) + overflow_area(mask)


def watch_nearby(value: bytes) -> bytes:
    """Apple Watch Nearby Info (5 bytes, data flags 0x98), demoted out of `iphone`."""
    return build_ad(flags=0x1A) + ad(0xFF, b"\x4c\x00" + _apple((0x10, value)))


def airpods() -> bytes:
    """AirPods Proximity Pairing (Apple TLV 0x07), docs/protocol.md §4.1."""
    value = bytes.fromhex("010e2022f58f00000a7d9fff27234873d4305e0fed1b39e2b8")
    return ad(0xFF, b"\x4c\x00" + _apple((0x07, value)))


def airtag(key: bytes) -> bytes:
    """Find My 'wild' advert of an AirTag (0x12, status 0x10), docs/protocol.md §4.1."""
    return ad(0xFF, b"\x4c\x00" + _apple((0x12, b"\x10" + key[:22] + b"\x00\x00")))


def fast_pair_earbuds(model_id: bytes) -> bytes:
    """Google Fast Pair provider (service data 0xFE2C, 3-byte model id), docs/protocol.md §4.3."""
    return build_ad(flags=0x06, service_uuids=[0xFE2C], service_data={0xFE2C: model_id})


def samsung(payload: bytes) -> bytes:
    """Samsung 0x0075 manufacturer data (class unknown), docs/protocol.md §4.4."""
    return build_ad(flags=0x1A, manufacturer_data={0x0075: payload})


def samsung_watch(payload: bytes) -> bytes:
    """A Samsung watch: 0x0075 with a watch appearance (signatures demote it)."""
    return build_ad(flags=0x06, manufacturer_data={0x0075: payload}, appearance=0x00C1)


def ibeacon(uuid: bytes, major: int, minor: int) -> bytes:
    """A shop's iBeacon (not Bluezone's UUID), docs/protocol.md §6 R11."""
    body = uuid + major.to_bytes(2, "big") + minor.to_bytes(2, "big") + b"\xc5"
    return build_ad(flags=0x06) + ad(0xFF, b"\x4c\x00" + _apple((0x02, body)))


def ms_cdp_pc(salt_hash: bytes) -> bytes:
    """Windows 10 desktop CDP beacon (Microsoft 0x0006, device type 9), docs/protocol.md §4.5."""
    return build_ad(manufacturer_data={0x0006: bytes((0x01, 0x20 | 9, 0x02)) + salt_hash[:24]})
