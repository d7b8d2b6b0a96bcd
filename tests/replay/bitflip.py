"""Sniffer captures with bit errors: a scene's packets, some of them with one bit flipped.

What an SDR sniffer (HackRF, Ubertooth) writes when reception is marginal: the frame as
demodulated, its CRC not checked at capture. A flip lands in the AdvA (a phantom device if
nobody checks the CRC), in the AD data (a phantom payload: a wrong Bluezone ID, a wrong RPI) or in
the CRC itself. LINKTYPE 272 frames come from nRF Sniffer, which checks the CRC and flags it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scanner.ble.advert import PduKind, RawAdvert
from scanner.sources.replay.encode import le_phdr, ll_packet, nordic_header
from scanner.sources.replay.write import SCAN_RSP_DELAY_S, CaptureWriter

Where = Literal["adva", "data", "crc", "ad_length"]
# tshark checks the CRC after dissecting the AD structures, so a flipped AD length (a malformed
# packet to it) never reaches its CRC check: "ad_length" flips are left out where tshark counts.
WHERE: tuple[Where, ...] = ("adva", "data", "crc")


@dataclass(frozen=True, slots=True)
class Packet:
    t: float
    kind: PduKind
    address: str
    rssi_dbm: int | None
    data: bytes


def packets(adverts: Sequence[RawAdvert]) -> list[Packet]:
    """One packet per PDU on air: each advert, then its scan response, like the writer does."""
    out: list[Packet] = []
    for a in adverts:
        kind = a.pdu
        if kind is PduKind.UNKNOWN:
            kind = PduKind.ADV_IND if a.scan_rsp is not None else PduKind.ADV_NONCONN_IND
        out.append(Packet(a.t, kind, a.address, a.rssi_dbm, a.adv))
        if a.scan_rsp is not None and kind is not PduKind.SCAN_RSP:
            rsp = Packet(
                a.t + SCAN_RSP_DELAY_S, PduKind.SCAN_RSP, a.address, a.rssi_dbm, a.scan_rsp
            )
            out.append(rsp)
    return out


def _ad_bytes(ll: bytes, lengths: bool) -> list[int]:
    """Offsets in `ll` of the AD structures' value bytes (or of their length bytes)."""
    out: list[int] = []
    i, end = 12, len(ll) - 3
    while i < end and ll[i] and i + 1 + ll[i] <= end:
        out += [i] if lengths else list(range(i + 2, i + 1 + ll[i]))
        i += 1 + ll[i]
    return out


def flip(ll: bytes, where: Where, rng: random.Random) -> bytes:
    """`ll` (access address, PDU, CRC) with one bit flipped in the AdvA, an AD value, the CRC
    or an AD length byte."""
    n = len(ll)
    spots = {
        "adva": list(range(6, 12)),
        "data": _ad_bytes(ll, False),
        "ad_length": _ad_bytes(ll, True),
        "crc": list(range(n - 3, n)),
    }[where] or list(range(6, 12))  # no AD data in this PDU: flip the AdvA instead
    i = rng.choice(spots)
    out = bytearray(ll)
    out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def write_flipped(
    path: Path,
    pkts: Sequence[Packet],
    corrupt: dict[int, Where],
    *,
    fmt: Literal["pcap", "pcapng"] = "pcap",
    linktype: int = 256,
    nordic_version: int = 3,
    seed: int = 1,
    skip_corrupt: bool = False,
) -> None:
    """Write `pkts`; those whose index is in `corrupt` get one flipped bit (or are left out).

    Link type 256 frames say "CRC not checked" and carry no RSSI (the HackRF capture's PHDR
    flags); link type 272 frames say "CRC OK" unless corrupted (what nRF Sniffer writes).
    """
    rng = random.Random(seed)
    channels = (37, 38, 39)
    with CaptureWriter(path, fmt, linktype=linktype) as w:
        for i, p in enumerate(pkts):
            bad = i in corrupt
            if bad and skip_corrupt:
                continue
            ll = ll_packet(p.kind, p.address, p.data, address_type="random")
            if bad:
                ll = flip(ll, corrupt[i], rng)
            ch = channels[i % 3]
            if linktype == 256:
                frame = le_phdr(ch, None, crc_checked=False) + ll
            elif linktype == 272:
                head = nordic_header(
                    nordic_version, len(ll), channel=ch, rssi_dbm=p.rssi_dbm, crc_ok=not bad,
                    counter=i, time_us=i * 1000,
                )  # fmt: skip
                frame = head + ll
            else:
                frame = ll
            w.write_frame(p.t, frame)


def choose(n: int, share: float, seed: int = 2, where: Sequence[Where] = WHERE) -> dict[int, Where]:
    """About `share` of `n` packet indexes, each with a place for its flipped bit."""
    rng = random.Random(seed)
    return {i: rng.choice(where) for i in range(n) if rng.random() < share}
