"""AD payloads (from tests/factories.py) and a hand-checked replay scene.

§2.2 Android A2 (company 0x22B5, 12-byte rolling ID, UUID16 0x4E56), §2.3 its iBeacon companion,
§2.5 iOS foreground, §2.6 iOS background (overflow area in the scan response), §4.1 Apple Nearby
Info, §4.2 Exposure Notification (0xFD6F), §4.5 Microsoft CDP, Apple Proximity Pairing earbuds.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanner.ble.advert import PduKind, RawAdvert
from tests.factories import advert

# Real IDs of one phone on 2020-08-08 (protocol.md §2.9): slot 23 = 05:45-06:00 UTC, 24 = 06:00-.
ID_SLOT23 = bytes.fromhex("B9A665D754FE65E665D76A45")
ID_SLOT24 = bytes.fromhex("3AA8DFC0A15682B27216FC31")
ROTATION = 1_596_866_400  # 2020-08-08 06:00:00 UTC


def bz_android(bzid: bytes) -> bytes:
    return advert("bz_android_v2", bz_id=bzid).adv


def bz_beacon() -> bytes:
    return advert("bz_ibeacon").adv


def bz_ios_fg() -> bytes:
    return advert("bz_ios_fg_v2").adv


def nearby_info(action: int = 0x07, flags: int = 0x1E) -> bytes:
    # Nearby Info value of a real iPhone X (real-adverts.jsonl "herald-iphonex-f"), action varied.
    return advert("iphone", nearby=bytes([action, flags]) + bytes.fromhex("a3dd89e0")).adv


def overflow_area() -> bytes:
    """Apple manufacturer data with the overflow area, Bluezone v2's bit set (the scan response)."""
    rsp = advert("bz_ios_bg", in_scan_rsp=True).scan_rsp
    assert rsp is not None
    return rsp


def gaen(rpi: bytes) -> bytes:
    return advert("gaen", rpi=rpi).adv


def ms_cdp() -> bytes:
    return advert("ms_cdp").adv


def airpods() -> bytes:
    return advert("airpods").adv  # earbuds: Apple Proximity Pairing


def unknown_mfr() -> bytes:
    return advert("noise").adv


def addr(n: int, top: int = 0xC0) -> str:
    b = [top | (n >> 16 & 0x3F), 0x10, 0x20, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]
    return ":".join(f"{x:02X}" for x in b)


@dataclass(frozen=True, slots=True)
class Scene:
    adverts: list[RawAdvert]
    scan_responses: int


def scene(t0: float = ROTATION - 120, seconds: int = 240) -> Scene:
    """Four 60-s windows 05:58-06:02 UTC; the expected counts are in test_scenes.py.

    - Android Bluezone A (real IDs above): whole time, 15 s on / 15 s off, a new address per
      burst, one advert a second; its iBeacon companion in every second burst (own address).
    - Android Bluezone B (ID bytes 0x11.., 0x22..): from 05:59:00 on. C (0x33..): 05:58 only.
    - iOS Bluezone foreground (static address), iOS Bluezone background (Nearby Info advert,
      overflow area bit 0x08 in the scan response), two plain iPhones.
    - Two Exposure Notification phones; the second changes RPI and address at 06:00:30.
    - Noise: Windows PC (Microsoft CDP), AirPods, a sensor with unknown manufacturer data.
    """
    out: list[RawAdvert] = []
    rsp = 0
    burst = 0
    adv_ind = PduKind.ADV_IND
    nonconn = PduKind.ADV_NONCONN_IND
    for s in range(seconds):
        t = t0 + s + 0.125
        phase = int(t) % 30
        if phase == 0:
            burst += 1
        if phase < 15:
            bzid = ID_SLOT23 if t < ROTATION else ID_SLOT24
            out.append(RawAdvert(t, addr(0x100 + burst), -60, bz_android(bzid), None, adv_ind))
            if burst % 2 == 0:
                out.append(
                    RawAdvert(t + 0.01, addr(0x200 + burst), -61, bz_beacon(), None, nonconn)
                )
            if t >= ROTATION - 60:
                b_id = bytes([0x11]) * 12 if t < ROTATION else bytes([0x22]) * 12
                out.append(
                    RawAdvert(t + 0.02, addr(0x300 + burst), -62, bz_android(b_id), None, adv_ind)
                )
            if t < ROTATION - 60:
                out.append(
                    RawAdvert(
                        t + 0.03,
                        addr(0x400 + burst),
                        -63,
                        bz_android(bytes([0x33]) * 12),
                        None,
                        adv_ind,
                    )
                )
        if s % 2 == 0:
            # iPhones are ~14 dB louder than Bluezone Android; the counter's gate for Apple-sent
            # keys is 14 dB higher (scanner.counting.window.APPLE_GATE_OFFSET_DB).
            out.append(RawAdvert(t + 0.04, addr(1), -51, bz_ios_fg(), None, adv_ind))
            out.append(RawAdvert(t + 0.05, addr(2), -52, nearby_info(), overflow_area(), adv_ind))
            rsp += 1
            out.append(RawAdvert(t + 0.06, addr(3), -41, nearby_info(0x07), None, adv_ind))
            out.append(RawAdvert(t + 0.07, addr(4), -44, nearby_info(0x0C), None, adv_ind))
        else:
            rotated = t >= ROTATION + 30
            out.append(RawAdvert(t, addr(5), -70, gaen(bytes([0xA5]) * 16), None, nonconn))
            en2 = addr(7) if rotated else addr(6)
            rpi2 = bytes([0x5B]) * 16 if rotated else bytes([0x5A]) * 16
            out.append(RawAdvert(t + 0.01, en2, -71, gaen(rpi2), None, nonconn))
            out.append(RawAdvert(t + 0.02, addr(8), -62, ms_cdp(), None, nonconn))
            out.append(RawAdvert(t + 0.03, addr(9), -64, airpods(), None, nonconn))
            out.append(RawAdvert(t + 0.04, addr(10), -67, unknown_mfr(), None, adv_ind))
    out.sort(key=lambda a: a.t)
    return Scene(out, rsp)
