"""One advert factory for tests, the simulator and benches: `advert(kind, **overrides)`.

Every kind builds on-air AD bytes (advert + optional scan response) from the layouts in
shared/protocol.md; overrides change one field at a time. Stable API (other helpers use it):

    advert(kind, **overrides) -> Payload(adv, scan_rsp)
    raw_advert(kind, *, t, address, rssi_dbm=-60, **overrides) -> scanner.ble.advert.RawAdvert
    KINDS: every kind name; DEFAULT_BZ_ID etc.: the defaults used.

Kinds and their overrides (all also accept `flags`, `tx_power`, `extra` [(ad_type, bytes)] appended
to the advert, and `scan_rsp` to replace the scan response):
    bz_android_v2   bz_id (12 bytes)                          R1  protocol.md §2.2
    bz_android_v1   blid (6 ASCII chars)                      R2  §2.1
    bz_ios_fg_v2    name ("Bluezone")                         R4  §2.5
    bz_ios_fg_v1    blid, digits (d1, d2) -> 10-char name     R5  §2.4 (8 chars in adv, 10 in rsp)
    bz_ios_bg       version ("v2"|"v1"), overflow_uuids (extra UUIDs whose bits are set too),
                    in_scan_rsp (overflow in the scan response, Nearby Info in the advert)
                                                              R6/R7 §2.6
    bz_ibeacon      (Bluezone Android's iBeacon companion)    R8  §2.3
    iphone          nearby (6-byte Nearby Info value), handoff (bool: Handoff TLV first)  R9 §4.1
    mac | watch | ipad | appletv   nearby (value)              Nearby Info shapes, demoted to other
    gaen            rpi (16 bytes), aem (4 bytes)             R10 §4.2 (Android: no Flags)
    airpods         (Proximity Pairing 0x07)                  R11
    airtag          status (Find My status byte, 0x10 = AirTag)  R11
    findmy_apple    (Find My from an Apple device, status 0x00)  iphone (herald-iphonex-findmy)
    ibeacon         uuid (16 bytes), major, minor            R11
    eddystone       (UID frame, service data 0xFEAA)          R11
    ms_cdp          device_type (9 = Windows 10 desktop)      R11 §4.5
    samsung         payload                                   R12 §4.4
    noise           payload (a sensor's manufacturer data, company 0x0499)  other/unknown
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scanner.ble.adparse import ad, build_ad
from scanner.ble.advert import PduKind, RawAdvert
from scanner.ble.bluezone_id import encode_v1_name
from scanner.ble.overflow import overflow_bit

BZ_COMPANY = 0x22B5
APPLE = 0x004C
BZ_UUID16 = 0x4E56
BZ_ANDROID_V1_UUID = "E20A39F4-73F5-4BC4-A12F-17D1AD07A889"
BZ_IOS_V2_UUID = "00004E56-73F5-4BC4-A12F-17D1AD07A667"
BZ_IOS_V1_UUID = "E20A39F4-73F5-4BC4-A12F-17D1AD07A667"
BZ_IBEACON_UUID = bytes.fromhex("C7AFEF7B17884F4AA87D691D53BF21C4")
DEFAULT_BZ_ID = bytes.fromhex("B9A665D754FE65E665D76A45")  # protocol.md §2.9, slot 23 of 2020-08-08
DEFAULT_BLID = "aB3xY9"  # protocol.md §2.4 example
DEFAULT_RPI = bytes.fromhex("e7c6d34c71e48baf278bd99be74685bc")
DEFAULT_NEARBY = bytes.fromhex("071ea3dd89e0")  # iPhone X (real-adverts herald-iphonex-f)
_NEARBY = {
    "mac": bytes.fromhex("421c1e616a"),  # MacBook Pro, flags 0x06 (herald-macbookpro-f)
    "watch": bytes.fromhex("0b982068dd"),  # Apple Watch (theengs)
    "ipad": bytes.fromhex("0304"),  # iPad (theengs)
    "appletv": bytes.fromhex("08141bba69"),  # Apple TV (herald-appletv)
}


@dataclass(frozen=True, slots=True)
class Payload:
    adv: bytes
    scan_rsp: bytes | None = None


def _apple(*tlvs: tuple[int, bytes]) -> bytes:
    return b"".join(bytes((t, len(v))) + v for t, v in tlvs)


def overflow_mask(*uuids: str | int) -> bytes:
    """The 16-byte overflow-area bitmask iOS sends for these background service UUIDs."""
    mask = bytearray(16)
    for u in uuids:
        i, bit = overflow_bit(u)
        mask[i] |= bit
    return bytes(mask)


def _iphone_adv(nearby: bytes, handoff: bool = False) -> bytes:
    tlvs = [(0x10, nearby)]
    if handoff:
        tlvs.insert(0, (0x0C, bytes.fromhex("00c857ac085510515d52cf386221")))
    return build_ad(flags=0x1A, tx_power=12) + ad(0xFF, b"\x4c\x00" + _apple(*tlvs))


def _build(kind: str, o: dict[str, Any]) -> Payload:
    if kind == "bz_android_v2":
        bz_id = o.pop("bz_id", DEFAULT_BZ_ID)
        adv = build_ad(flags=o.pop("flags", 0x02), manufacturer_data={BZ_COMPANY: bz_id},
                       service_uuids=[BZ_UUID16])  # fmt: skip
        return Payload(adv, None)
    if kind == "bz_android_v1":
        blid = o.pop("blid", DEFAULT_BLID).encode()
        adv = build_ad(flags=o.pop("flags", 0x02), manufacturer_data={BZ_COMPANY: blid},
                       service_uuids=[BZ_ANDROID_V1_UUID])  # fmt: skip
        return Payload(adv, None)
    if kind == "bz_ios_fg_v2":
        adv = build_ad(flags=o.pop("flags", 0x1A), service_uuids=[BZ_IOS_V2_UUID],
                       local_name=o.pop("name", "Bluezone"))  # fmt: skip
        return Payload(adv, None)
    if kind == "bz_ios_fg_v1":
        d1, d2 = o.pop("digits", (2, 4))
        name = encode_v1_name(o.pop("blid", DEFAULT_BLID), d1, d2)
        adv = build_ad(flags=o.pop("flags", 0x1A), service_uuids=[BZ_IOS_V1_UUID],
                       local_name=name[:8], short_name=True)  # fmt: skip
        return Payload(adv, build_ad(local_name=name))
    if kind == "bz_ios_bg":
        uuid = BZ_IOS_V2_UUID if o.pop("version", "v2") == "v2" else BZ_IOS_V1_UUID
        area = ad(0xFF, b"\x4c\x00\x01" + overflow_mask(uuid, *o.pop("overflow_uuids", ())))
        if o.pop("in_scan_rsp", False):
            return Payload(_iphone_adv(o.pop("nearby", DEFAULT_NEARBY)), area)
        return Payload(build_ad(flags=o.pop("flags", 0x1A)) + area, b"")
    if kind == "bz_ibeacon":
        body = BZ_IBEACON_UUID + bytes.fromhex("00140014c5")
        return Payload(ad(0xFF, b"\x4c\x00" + _apple((0x02, body))), None)
    if kind == "iphone":
        return Payload(_iphone_adv(o.pop("nearby", DEFAULT_NEARBY), o.pop("handoff", False)), None)
    if kind in _NEARBY:
        flags = o.pop("flags", 0x06 if kind == "mac" else 0x1A)
        adv = build_ad(flags=flags) + ad(
            0xFF, b"\x4c\x00" + _apple((0x10, o.pop("nearby", _NEARBY[kind])))
        )
        return Payload(adv, None)
    if kind == "gaen":
        rpi, aem = o.pop("rpi", DEFAULT_RPI), o.pop("aem", bytes.fromhex("a78126ab"))
        return Payload(build_ad(service_uuids=[0xFD6F], service_data={0xFD6F: rpi + aem}), None)
    if kind == "airpods":
        value = bytes.fromhex("010e2022f58f00000a7d9fff27234873d4305e0fed1b39e2b8")
        return Payload(ad(0xFF, b"\x4c\x00" + _apple((0x07, value))), None)
    if kind in ("airtag", "findmy_apple"):
        status = o.pop("status", 0x10 if kind == "airtag" else 0x00)
        value = bytes((status,)) + bytes(range(1, 25))
        return Payload(ad(0xFF, b"\x4c\x00" + _apple((0x12, value))), None)
    if kind == "ibeacon":
        body = o.pop("uuid", bytes.fromhex("fda50693a4e24fb1afcfc6eb07647825"))
        body += (
            o.pop("major", 1).to_bytes(2, "big") + o.pop("minor", 2).to_bytes(2, "big") + b"\xc5"
        )
        return Payload(build_ad(flags=0x06) + ad(0xFF, b"\x4c\x00" + _apple((0x02, body))), None)
    if kind == "eddystone":
        frame = bytes.fromhex("00e800112233445566778899000000000000")
        return Payload(build_ad(flags=0x06, service_uuids=[0xFEAA], service_data={0xFEAA: frame}))
    if kind == "ms_cdp":
        body = bytes((0x01, 0x20 | o.pop("device_type", 9))) + bytes.fromhex("02") + bytes(24)
        return Payload(build_ad(manufacturer_data={0x0006: body}), None)
    if kind == "samsung":
        payload = o.pop("payload", bytes.fromhex("0100020001030203"))
        return Payload(build_ad(flags=0x1A, manufacturer_data={0x0075: payload}), None)
    if kind == "noise":
        payload = o.pop("payload", bytes.fromhex("050e6e336dc7a603d0fe840014a33697d9adf830"))
        return Payload(build_ad(flags=0x06, manufacturer_data={0x0499: payload}), None)
    raise ValueError(f"unknown advert kind {kind!r}; known: {', '.join(KINDS)}")


KINDS = (
    "bz_android_v2", "bz_android_v1", "bz_ios_fg_v2", "bz_ios_fg_v1", "bz_ios_bg", "bz_ibeacon",
    "iphone", "mac", "watch", "ipad", "appletv", "gaen", "airpods", "airtag", "findmy_apple",
    "ibeacon", "eddystone", "ms_cdp", "samsung", "noise",
)  # fmt: skip


def advert(kind: str, **overrides: Any) -> Payload:
    """AD bytes for one kind of advertiser; unknown overrides raise TypeError (catch typos)."""
    o = dict(overrides)
    flags = o.pop("flags", None)
    tx_power = o.pop("tx_power", None)
    extra = o.pop("extra", ())
    scan_rsp = o.pop("scan_rsp", ...)
    if flags is not None:
        o["flags"] = flags
    p = _build(kind, o)
    o.pop("flags", None)
    if o:
        raise TypeError(f"advert({kind!r}) got unexpected overrides {sorted(o)}")
    adv = p.adv
    if flags is not None and not adv.startswith(bytes((2, 1))):
        adv = build_ad(flags=flags) + adv
    if tx_power is not None:
        adv += build_ad(tx_power=tx_power)
    adv += b"".join(ad(t, d) for t, d in extra)
    return Payload(adv, p.scan_rsp if scan_rsp is ... else scan_rsp)


def raw_advert(
    kind: str, *, t: float, address: str, rssi_dbm: int | None = -60, **overrides: Any
) -> RawAdvert:
    """A RawAdvert of `kind` heard at `t` from `address` (ADV_IND, with any scan response)."""
    p = advert(kind, **overrides)
    return RawAdvert(t=t, address=address, rssi_dbm=rssi_dbm, adv=p.adv, scan_rsp=p.scan_rsp,
                     pdu=PduKind.ADV_IND)  # fmt: skip
