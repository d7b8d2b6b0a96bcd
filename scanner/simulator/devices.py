"""Simulated advertisers: when each device is on air, under which address, and what a host hears.

Effective capture (the documented thinning): a host scanner does not hand every 100 ms packet to
the application. BlueZ with duplicate filtering off reports an advertiser about once per scan
interval on the channel it listens to, so the simulator emits at most one host report per
advertiser per `report_interval_s` (1 s by default), and a report exists if any of the
`report_interval_s / advertising_interval_s` packets in that time got through:
p_report = 1 - (1 - p_packet)^k, with p_packet falling off logistically below the sensitivity.
RSSI is log-distance path loss with per-device shadowing and body loss plus per-report fading.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from scanner.ble.advert import PduKind
from scanner.ble.bluezone_id import DAY_SECONDS, SLOTS_PER_DAY, daily_key, day_ids
from scanner.simulator import payloads as pl

# RSSI at 1 m by transmitter class (dBm): TX power - 40 dB (free space at 2.4 GHz, 1 m) - ~10 dB
# handset antenna and orientation losses (assumption). Bluezone Android advertises with
# ADVERTISE_TX_POWER_LOW (docs/protocol.md §2.2; AOSP: -15 dBm), default sets MEDIUM (-7 dBm), the
# AltBeacon companion TX HIGH (+1 dBm, §2.3); iPhones announce 12 dBm in BMESH (§4.1) but measure
# like ~0 dBm; iBeacons are calibrated to -59 dBm at 1 m by definition (§2.3 measured power).
RSSI_1M: Final = {
    "android_low": -65.0,
    "android_default": -57.0,
    "android_high": -49.0,
    "iphone": -52.0,
    "wearable": -62.0,
    "accessory": -60.0,
    "beacon": -59.0,
    "pc": -58.0,
}
ANDROID_LOW_LATENCY_S: Final = 0.1  # AOSP AdvertiseManager (docs/protocol.md §2.7)
ANDROID_LOW_POWER_S: Final = 1.0
BURST_S: Final = 15.0  # docs/protocol.md §2.7: on 15 s, off 15 s
PERIOD_S: Final = 30.0
DOZE_STEP_S: Final = (480.0, 600.0)  # ~9-min AlarmManager steps in Doze (docs/protocol.md §2.7)
IOS_ROTATION_S: Final = (780.0, 1020.0)  # ~15 min, unsynchronised (docs/protocol.md §5)
_LOGISTIC_SCALE_DB: Final = 2.0

# A report before sorting: (t, address, rssi, adv, scan_rsp, pdu, tags)
Report = tuple[float, str, int, bytes, bytes | None, PduKind, tuple[str, ...]]


@dataclass(slots=True)
class Radio:
    """Per-device radio situation: distance and the slow losses that stay for a visit."""

    distance_m: float
    rssi_1m: float
    exponent: float
    slow_loss_db: float  # shadowing + body loss, drawn once
    fading_sd_db: float
    sensitivity_dbm: float

    @property
    def mean_rssi(self) -> float:
        d = max(0.5, self.distance_m)
        return self.rssi_1m - 10.0 * self.exponent * math.log10(d) - self.slow_loss_db


@dataclass(slots=True)
class Device:
    """One advertiser; `intervals` are the [start, end) times its owner is within earshot."""

    kind: str
    intervals: list[tuple[float, float]]
    radio: Radio
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    person: int | None = None


def random_address(rng: random.Random, kind: str = "rpa") -> str:
    """A random device address: resolvable private (top bits 01) or static random (11)."""
    b = bytearray(rng.getrandbits(8) for _ in range(6))
    b[0] = (b[0] & 0x3F) | (0x40 if kind == "rpa" else 0xC0)
    return ":".join(f"{x:02X}" for x in b)


class _Ear:
    """Turns 'the device sends k packets in this report interval' into a host report or none."""

    def __init__(self, radio: Radio, rng: random.Random, gate_dbm: int) -> None:
        self._mean = radio.mean_rssi
        self._sd = radio.fading_sd_db
        self._sens = radio.sensitivity_dbm
        self._rng = rng

    def hear(self, packets: float) -> int | None:
        rssi = self._mean + self._rng.gauss(0.0, self._sd)
        x = (rssi - self._sens) / _LOGISTIC_SCALE_DB
        p_pkt = 1.0 / (1.0 + math.exp(-x)) if x > -30 else 0.0
        p = 1.0 - (1.0 - p_pkt) ** max(1.0, packets)
        if self._rng.random() >= p:
            return None
        return max(-127, min(20, round(rssi)))


def _steps(a: float, b: float, interval: float, rng: random.Random) -> list[float]:
    """Report times in [a, b): one per interval, at a random point inside it."""
    out = []
    t = a
    while t < b:
        x = t + rng.random() * interval
        if x < b:
            out.append(x)
        t += interval
    return out


def _android_bursts(dev: Device, rng: random.Random) -> list[tuple[float, float, int]]:
    """(start, end, burst number) of Bluezone Android's advertising, clipped to presence."""
    out: list[tuple[float, float, int]] = []
    doze = bool(dev.params.get("doze"))
    for a, b in dev.intervals:
        if doze:
            t = a - rng.uniform(0, DOZE_STEP_S[1])
            on = rng.random() < 0.5
            n = 0
            while t < b:
                step = rng.uniform(*DOZE_STEP_S)
                if on and t + step > a:
                    out.append((max(a, t), min(b, t + step), n))
                    n += 1
                on = not on
                t += step
        else:
            phase = float(dev.params.get("phase", 0.0))
            k = math.floor((a - phase) / PERIOD_S)
            while phase + k * PERIOD_S < b:
                s = phase + k * PERIOD_S
                e = s + BURST_S
                if e > a:
                    out.append((max(a, s), min(b, e), k))
                k += 1
    return out


def emit_android_bz(dev: Device, report_s: float, gate: int) -> list[Report]:
    """Bluezone Android v2 (A2 + optional A3 companion) or v1 (A1), docs/protocol.md §2.1-2.3,
    §2.7.
    """
    rng = random.Random(dev.seed)
    ear = _Ear(dev.radio, rng, gate)
    v1 = dev.params.get("v1", False)
    companion = bool(dev.params.get("companion"))
    parity = int(dev.params.get("companion_parity", 0))
    offset = float(dev.params.get("clock_offset_s", 0.0))
    base_key = dev.params.get("base_key", b"")
    base_day = int(dev.params.get("base_day", 0))
    assert isinstance(base_key, bytes)
    ids_by_day: dict[int, list[bytes]] = {}
    beacon_rssi = Radio(**{**_radio_dict(dev.radio), "rssi_1m": RSSI_1M["android_high"]})
    beacon_ear = _Ear(beacon_rssi, rng, gate)
    out: list[Report] = []
    blid_adv = pl.bz_android_v1(str(dev.params.get("blid", "aB3xY9"))) if v1 else b""
    for s, e, n in _android_bursts(dev, rng):
        # a new advertising set per burst -> new RPA (docs/protocol.md §5)
        addr = random_address(rng)
        if v1:
            tags: tuple[str, ...] = ("bluezone/android_v1",)
            for t in _steps(s, e, max(report_s, ANDROID_LOW_POWER_S), rng):
                r = ear.hear(max(report_s, ANDROID_LOW_POWER_S) / ANDROID_LOW_POWER_S)
                if r is not None:
                    out.append((t, addr, r, blid_adv, None, PduKind.ADV_IND, tags))
            continue
        tags = ("bluezone/android",)
        for t in _steps(s, e, report_s, rng):
            r = ear.hear(report_s / ANDROID_LOW_LATENCY_S)
            if r is None:
                continue
            # The phone's own clock decides the quarter hour, a few seconds off UTC (§2.9).
            pt = t + offset
            day = int(pt // DAY_SECONDS)
            ids = ids_by_day.get(day)
            if ids is None:
                ids = ids_by_day[day] = day_ids(daily_key(base_key, max(0, day - base_day)))
            slot = int((pt % DAY_SECONDS) // (DAY_SECONDS / SLOTS_PER_DAY))
            out.append((t, addr, r, pl.bz_android_v2(ids[slot]), None, PduKind.ADV_IND, tags))
        if companion and n % 2 == parity:
            baddr = random_address(rng)  # its own advertising set: a second MAC (§2.3)
            step = max(report_s, ANDROID_LOW_POWER_S)
            adv = pl.bz_ibeacon()
            for t in _steps(s, e, step, rng):
                r = beacon_ear.hear(step / ANDROID_LOW_POWER_S)
                if r is not None:
                    out.append((t, baddr, r, adv, None, PduKind.ADV_NONCONN_IND, ()))
    return out


def _radio_dict(r: Radio) -> dict[str, float]:
    return {
        "distance_m": r.distance_m,
        "rssi_1m": r.rssi_1m,
        "exponent": r.exponent,
        "slow_loss_db": r.slow_loss_db,
        "fading_sd_db": r.fading_sd_db,
        "sensitivity_dbm": r.sensitivity_dbm,
    }


# A rotating advertiser's frames: called with the rng and the address epoch, returns the list of
# (adv, scan_rsp, pdu, tags) it cycles through, one per report.
Frames = list[tuple[bytes, bytes | None, PduKind, tuple[str, ...]]]
FrameMaker = Callable[[random.Random, int], Frames]


def emit_rotating(
    dev: Device,
    report_s: float,
    gate: int,
    frames: FrameMaker,
    *,
    interval_s: float,
    rotation_s: tuple[float, float] | None = IOS_ROTATION_S,
) -> list[Report]:
    """A continuously advertising device whose address rotates on its own unaligned clock.

    One address carries all of its frames at a time (iOS: Nearby Info and the overflow area,
    docs/protocol.md §5); the host reports one frame per report interval, cycling through them.
    """
    rng = random.Random(dev.seed)
    ear = _Ear(dev.radio, rng, gate)
    out: list[Report] = []
    period = rng.uniform(*rotation_s) if rotation_s else None
    phase = rng.uniform(0, period) if period else 0.0
    step = max(report_s, interval_s)
    cache: dict[int, tuple[str, Frames]] = {}
    fixed_addr = random_address(rng, "static")
    i = rng.randrange(8)
    for a, b in dev.intervals:
        for t in _steps(a, b, step, rng):
            r = ear.hear(step / interval_s)
            if r is None:
                continue
            epoch = int((t - phase) // period) if period else 0
            got = cache.get(epoch)
            if got is None:
                got = cache[epoch] = (
                    random_address(rng) if period else fixed_addr,
                    frames(rng, epoch),
                )
            addr, fr = got
            adv, rsp, pdu, tags = fr[i % len(fr)]
            i += 1
            out.append((t, addr, r, adv, rsp, pdu, tags))
    return out
