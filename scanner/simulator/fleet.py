"""The simulated site's advertisers: which devices each person carries, and their frames (pure).

Builds every `Device` in a fixed order from the master RNG (phones by platform and app state,
accessories, fixed beacons and PCs) and picks the emitter and on-air frames for each
(docs/protocol.md §2, §4, §5).
"""

from __future__ import annotations

import random
from typing import Final

from scanner.ble.advert import PduKind
from scanner.simulator import payloads as pl
from scanner.simulator.devices import (
    PERIOD_S,
    RSSI_1M,
    Device,
    Frames,
    Radio,
    Report,
    emit_android_bz,
    emit_rotating,
)
from scanner.simulator.model import Scenario
from scanner.simulator.people import Person

_ALNUM: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_OTHER_APP_UUIDS: Final = 64  # pool of other apps' background service UUIDs (assumption)


def _radio(
    sc: Scenario, rng: random.Random, distance: float, tx: str, body: bool, outside: bool
) -> Radio:
    slow = rng.gauss(0.0, sc.shadowing_sd_db)
    if outside:
        slow += sc.passersby_wall_loss_db  # walls, shutters or stalls between them and the node
    if body and rng.random() < sc.body_loss_share:
        slow += rng.uniform(0.5, 1.5) * sc.body_loss_db  # phone in a pocket or bag
    return Radio(
        distance, RSSI_1M[tx], sc.path_loss_exponent, slow, sc.fading_sd_db, sc.sensitivity_dbm
    )


def _iphone_frames(sc: Scenario, p: Person, rng: random.Random) -> Frames:
    """One iPhone's frames under its current address (docs/protocol.md §2.5, §2.6, §4.1, §5)."""
    nearby = bytes((rng.choice((0x01, 0x03, 0x07, 0x0B)), rng.choice(pl.IPHONE_NEARBY_FLAGS)))
    nearby += rng.randbytes(4)
    frames: Frames = [
        (
            pl.iphone_nearby(nearby, handoff=rng.random() < 0.2),
            None,
            PduKind.ADV_IND,
            ("iphone/all",),
        )
    ]
    if p.stratum == "ios_fg":
        frames.append((pl.bz_ios_fg(), None, PduKind.ADV_IND, ("bluezone/ios_fg",)))
        return frames
    uuids = [
        f"0000{0x1000 + rng.randrange(_OTHER_APP_UUIDS):04X}-0000-1000-8000-00805F9B34FB"
        for _ in range(p.other_bg_apps)
    ]
    if p.stratum == "ios_bg":
        uuids.append(pl.BZ_IOS_V2_UUID)
    if not uuids:
        return frames
    mask = pl.overflow_mask(uuids)
    bz_tag = ("bluezone/ios_bg",) if pl.mask_has_bluezone_bit(mask) else ()
    area = pl.overflow_area(mask)
    if p.ios_rsp:
        # 2025-style: Nearby Info in the ADV_IND, overflow area only in the SCAN_RSP (§2.6);
        # a passive scanner never sends the scan request, so it never sees it.
        if sc.mode == "active":
            adv, _, pdu, tags = frames[0]
            frames[0] = (adv, area, pdu, (*tags, *bz_tag))
        return frames
    frames.append((pl.iphone_overflow_adv(mask), None, PduKind.ADV_IND, ("iphone/all", *bz_tag)))
    return frames


def devices(
    sc: Scenario, rng: random.Random, persons: list[Person], start: float, end: float
) -> list[tuple[Device, str]]:
    """Every advertiser with its emitter family, built in a fixed order from the master RNG."""
    out: list[tuple[Device, str]] = []

    def add(
        kind: str,
        p: Person | None,
        ivs: list[tuple[float, float]],
        tx: str,
        dist: float,
        body: bool = True,
        **params: object,
    ) -> None:
        dev = Device(
            kind,
            ivs,
            _radio(sc, rng, dist, tx, body, p is not None and not p.onsite),
            rng.getrandbits(64),
            dict(params),
            None if p is None else p.index,
        )
        out.append((dev, kind))

    for p in persons:
        ivs = [iv for iv in p.intervals if iv[1] > iv[0]]
        if not ivs:
            continue
        if p.phone == "android" and p.stratum in ("android", "android_v1"):
            blid = "".join(rng.choice(_ALNUM) for _ in range(6))
            tx = "android_low" if p.stratum == "android" else "android_default"
            add(
                "bz_android",
                p,
                ivs,
                tx,
                p.distance_m,
                v1=p.stratum == "android_v1",
                blid=blid,
                doze=p.doze,
                phase=rng.uniform(0, PERIOD_S),
                companion=p.companion,
                companion_parity=rng.randrange(2),
                clock_offset_s=rng.gauss(0, sc.clock_offset_sd_s),
                base_key=rng.randbytes(32),
                base_day=int(start // 86400) - rng.randint(1, 90),
            )
        elif p.phone == "android" and p.samsung_adv:
            add("samsung", p, ivs, "android_default", p.distance_m, payload=rng.randbytes(8))
        elif p.phone == "iphone":
            # Silent Bluezone iPhones still send Nearby Info: they count as iPhones only.
            add("iphone", p, ivs, "iphone", p.distance_m)
        if p.watch:
            add(
                "watch_apple" if p.phone == "iphone" else "watch_samsung",
                p,
                ivs,
                "wearable",
                p.distance_m,
                body=False,
                payload=rng.randbytes(5),
            )
        if p.earbuds:
            add(
                "airpods" if p.phone == "iphone" else "fastpair",
                p,
                ivs,
                "accessory",
                p.distance_m,
                model=rng.randbytes(3),
            )
        if p.airtag:
            add("airtag", p, ivs, "accessory", p.distance_m)
    whole = [(start, end)]
    for i in range(sc.beacons):
        add(
            "beacon",
            None,
            whole,
            "beacon",
            rng.uniform(2.0, sc.radius_m),
            body=False,
            uuid=rng.randbytes(16),
            minor=i,
        )
    for _ in range(sc.pcs):
        add("pc", None, whole, "pc", rng.uniform(2.0, sc.radius_m), body=False)
    return out


def emit(sc: Scenario, dev: Device, kind: str, persons: list[Person]) -> list[Report]:
    rs, gate = sc.report_interval_s, sc.rssi_min_dbm
    if kind == "bz_android":
        return emit_android_bz(dev, rs, gate)
    prm = dev.params

    def const(adv: bytes, pdu: PduKind = PduKind.ADV_IND, tags: tuple[str, ...] = ()) -> Frames:
        return [(adv, None, pdu, tags)]

    if kind == "iphone":
        p = persons[dev.person or 0]
        return emit_rotating(
            dev, rs, gate, lambda r, _e: _iphone_frames(sc, p, r), interval_s=0.265
        )
    payload = prm.get("payload", b"")
    assert isinstance(payload, bytes)
    if kind == "samsung":
        f = const(pl.samsung(payload), tags=("phone/samsung",))
        return emit_rotating(dev, rs, gate, lambda r, e: f, interval_s=1.0)
    if kind == "watch_apple":
        f = const(pl.watch_nearby(b"\x0b\x98" + payload[:3]))
        return emit_rotating(dev, rs, gate, lambda r, e: f, interval_s=1.0)
    if kind == "watch_samsung":
        f = const(pl.samsung_watch(payload))
        return emit_rotating(dev, rs, gate, lambda r, e: f, interval_s=1.0)
    if kind == "airpods":
        f = const(pl.airpods(), PduKind.ADV_NONCONN_IND)
        return emit_rotating(dev, rs, gate, lambda r, e: f, interval_s=0.2)
    if kind == "fastpair":
        model = prm.get("model", b"\x00\x00\x00")
        assert isinstance(model, bytes)
        f = const(pl.fast_pair_earbuds(model), PduKind.ADV_NONCONN_IND)
        return emit_rotating(dev, rs, gate, lambda r, e: f, interval_s=0.25, rotation_s=None)
    if kind == "airtag":
        return emit_rotating(
            dev,
            rs,
            gate,
            lambda r, e: const(pl.airtag(r.randbytes(22)), PduKind.ADV_NONCONN_IND),
            interval_s=2.0,
        )
    if kind == "beacon":
        uuid = prm.get("uuid", bytes(16))
        assert isinstance(uuid, bytes)
        f = const(pl.ibeacon(uuid, 100, int(prm.get("minor", 0))), PduKind.ADV_NONCONN_IND)
        return emit_rotating(dev, rs, gate, lambda r, e: f, interval_s=1.0, rotation_s=None)
    if kind == "pc":
        nonconn = PduKind.ADV_NONCONN_IND
        return emit_rotating(
            dev,
            rs,
            gate,
            lambda r, e: const(pl.ms_cdp_pc(r.randbytes(24)), nonconn),
            interval_s=0.25,
        )
    raise ValueError(f"unknown simulated device kind {kind!r}")
