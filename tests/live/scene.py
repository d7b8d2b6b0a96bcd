"""Scripted radio scenes for the live tests: who advertises what, when, and how loud.

Byte layouts follow shared/protocol.md (§2.2 Android A2, §2.5 iOS foreground, §2.6 iOS background
with the overflow area in the scan response, §4.1 Nearby Info, §4.2 GAEN, §4.5 Microsoft CDP).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.ble.advert import PduKind, RawAdvert

QUARTER = (
    1_597_906_800  # 2020-08-20 07:00:00 UTC, a Bluezone ID rotation instant (protocol.md §2.9)
)
FLAGS_ANDROID = bytes.fromhex("020102")
FLAGS_IOS = bytes.fromhex("02011a")


def bz_android(bzid: bytes) -> bytes:
    assert len(bzid) == 12
    return FLAGS_ANDROID + b"\x0f\xff\xb5\x22" + bzid + bytes.fromhex("0303564e")


def bz_ios_fg() -> bytes:
    uuid = bytes.fromhex("67a607add1172fa1c44bf573564e0000")  # 00004E56-73F5-4BC4-A12F-17D1AD07A667
    return FLAGS_IOS + b"\x11\x07" + uuid + b"\x09\x09Bluezone"


def nearby_info(status: int = 0x1E) -> bytes:
    # The iPhone shape: Nearby Info of length 6 (real-adverts herald-iphonex-*); status 0x1C/0x1F
    # and watchOS 0x18/0x98 would mark a Mac, iPad or Watch (signatures.yaml demotions).
    tlv = bytes([0x10, 0x06, 0x07, status, 0xA3, 0xDD, 0x89, 0xE0])
    return FLAGS_IOS + bytes.fromhex("020a0c") + bytes([len(tlv) + 3, 0xFF, 0x4C, 0x00]) + tlv


def overflow_area(byte0: int = 0x08) -> bytes:
    mask = bytes([byte0]) + bytes(15)
    return bytes([0x14, 0xFF, 0x4C, 0x00, 0x01]) + mask


def gaen(rpi: bytes) -> bytes:
    assert len(rpi) == 16
    return bytes.fromhex("03036ffd") + b"\x17\x16\x6f\xfd" + rpi + b"\x40\x01\x02\x03"


def ms_cdp() -> bytes:
    # Windows 10 desktop (device type 9): not a phone (R11).
    return bytes([0x1E, 0xFF, 0x06, 0x00, 0x01, 0x09, 0x20, 0x02]) + bytes(range(23))


def unknown_mfr() -> bytes:
    return FLAGS_ANDROID + bytes([0x07, 0xFF, 0x34, 0x12, 1, 2, 3, 4])


@dataclass(frozen=True, slots=True)
class Tx:
    t: float
    address: str
    rssi: int
    adv: bytes
    scan_rsp: bytes = b""

    def raw(self) -> RawAdvert:
        return RawAdvert(
            self.t, self.address, self.rssi, self.adv, self.scan_rsp or None, PduKind.ADV_IND
        )


def _addr(rng: random.Random) -> str:
    b = [rng.randrange(256) for _ in range(6)]
    b[0] |= 0xC0  # static random / resolvable-looking
    return ":".join(f"{x:02X}" for x in b)


def main_scene(t0: float = QUARTER - 180, seconds: int = 360, seed: int = 4) -> list[Tx]:
    """Six one-minute windows around the :00 rotation; see test_scene for the expected counts."""
    rng = random.Random(seed)
    ids = (rng.randbytes(12), rng.randbytes(12))
    ios_fg, ios_bg, ip1, ip2, en, far, pc, odd = (_addr(rng) for _ in range(8))
    rpi = rng.randbytes(16)
    out: list[Tx] = []
    burst_addr = ""
    for s in range(seconds):
        t = t0 + s
        # Bluezone Android: 15 s on / 15 s off, a new random address per burst, ID per UTC slot.
        if int(t) % 30 == 0:
            burst_addr = _addr(rng)
        if int(t) % 30 < 15 and s % 3 == 0:
            bzid = ids[0] if t < QUARTER else ids[1]
            out.append(Tx(t, burst_addr, -60 - s % 4, bz_android(bzid)))
        if s % 2 == 0:
            # Bluezone iPhones near the node: iPhones are ~14 dB louder than Bluezone Android
            # and meet a gate 14 dB higher (scanner.counting.window.APPLE_GATE_OFFSET_DB).
            out.append(Tx(t, ios_fg, -51 - s % 3, bz_ios_fg()))
            out.append(Tx(t, ios_bg, -52 - s % 3, nearby_info(), overflow_area()))
            out.append(Tx(t, ip1, -55 - s % 5, nearby_info(0x1E)))
            out.append(Tx(t, en, -70 - s % 3, gaen(rpi)))
            out.append(Tx(t, far, -95 - s % 2, nearby_info(0x1A)))  # below the -80 dBm gate
        if s % 2 == 1:
            out.append(Tx(t, ip2, -58 - s % 4, nearby_info(0x1A)))
            out.append(Tx(t, pc, -62, ms_cdp()))
            out.append(Tx(t, odd, -64 - s % 2, unknown_mfr()))
    return out


def stationary_scene(t0: float = QUARTER, minutes: int = 10) -> list[Tx]:
    """One iPhone, same bytes and the same RSSI every 2 s for `minutes` minutes."""
    return [Tx(t0 + s, "C0:11:22:33:44:55", -60, nearby_info()) for s in range(0, 60 * minutes, 2)]


def stale_scene(t0: float = QUARTER) -> list[Tx]:
    """One address: Bluezone Android for a minute, then only GAEN for three minutes."""
    addr = "C4:7C:8D:6A:22:01"
    bzid = bytes(range(1, 13))
    first = [Tx(t0 + s, addr, -60, bz_android(bzid)) for s in range(0, 60, 3)]
    later = [Tx(t0 + s, addr, -60 - s % 2, gaen(bytes(16))) for s in range(60, 240, 3)]
    return first + later


def by_time(txs: list[Tx]) -> Iterator[tuple[float, list[Tx]]]:
    txs = sorted(txs, key=lambda x: x.t)
    i = 0
    while i < len(txs):
        j = i
        while j < len(txs) and txs[j].t == txs[i].t:
            j += 1
        yield txs[i].t, txs[i:j]
        i = j


def crowd_scene(
    devices: int = 1500, minutes: float = 10, t0: float = QUARTER, seed: int = 1
) -> Iterator[Tx]:
    """A busy market, generated lazily in time order: 60 % iPhones (Nearby Info, some with the
    overflow area in the scan response), 20 % Bluezone Android (15 s bursts, a new address per
    burst, ID per UTC slot), 10 % GAEN, 10 % other; every device about once a second."""
    rng = random.Random(seed)
    kinds = []
    for i in range(devices):
        r = i % 10
        kinds.append("iphone" if r < 6 else "bz" if r < 8 else "en" if r < 9 else "other")
    addrs = [_addr(rng) for _ in range(devices)]
    ids = [rng.randbytes(12) for _ in range(devices)]
    rpis = [rng.randbytes(16) for _ in range(devices)]
    phase = [rng.random() for _ in range(devices)]
    rssi = [rng.randrange(-95, -45) for _ in range(devices)]
    for s in range(int(minutes * 60)):
        t_sec = t0 + s
        slot = int(t_sec // 900)
        for i in range(devices):
            t = t_sec + phase[i]
            kind = kinds[i]
            if kind == "bz":
                if int(t) % 30 == 0 and s:
                    addrs[i] = _addr(rng)
                if int(t) % 30 >= 15:
                    continue
                bzid = bytes(a ^ (slot & 0xFF) for a in ids[i])
                yield Tx(t, addrs[i], rssi[i] - s % 3, bz_android(bzid))
            elif kind == "iphone":
                rsp = overflow_area() if i % 7 == 0 else b""
                yield Tx(t, addrs[i], rssi[i] - s % 4, nearby_info((0x1A, 0x1B, 0x1E)[i % 3]), rsp)
            elif kind == "en":
                yield Tx(t, addrs[i], rssi[i] - s % 2, gaen(rpis[i]))
            else:
                yield Tx(t, addrs[i], rssi[i], ms_cdp() if i % 2 else unknown_mfr())
