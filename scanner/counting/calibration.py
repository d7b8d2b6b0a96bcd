"""Gate calibration: the strongest steady device's median RSSI proposes the RSSI gate (pure).

The inspector walks a reference phone (running Bluezone) along the site boundary for about a
minute. The node keeps, per device key (salted in memory, as the counter does), its packets'
RSSI and the time bins it was heard in; the reference is the device heard in most bins with
the strongest median (it is carried next to the node's own boundary walk), and its median over
the walk is where the boundary lies: a phone there is on site in half its windows under the
median rule of `scanner.counting.window` (docs/method.md, on-site decision). The gate is in
Bluezone Android terms: a reference iPhone, ~14 dB louder, proposes its median less the offset
the counter adds for Apple-sent keys.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from scanner.counting.window import APPLE_GATE_OFFSET_DB, APPLE_SENT

if TYPE_CHECKING:
    from scanner.ble.classify import Sighting

# Bins of one Bluezone Android advertising period (15 s burst every 30 s, docs/protocol.md
# §0.3): an awake phone fills every bin, a passer-by a few.
BIN_SECONDS: Final = 30.0
STEADY_SHARE: Final = 0.8


@dataclass(frozen=True, slots=True)
class GateProposal:
    """What calibration proposes (numbers only; nothing identifies the reference phone)."""

    gate_dbm: int
    median_dbm: float
    packets: int
    steady_share: float
    devices: int  # devices heard during the walk
    seconds: float


class GateCalibrator:
    """Collects RSSI per salted device key; `proposal()` names the gate."""

    def __init__(self, salt: bytes | None = None) -> None:
        self._salt = salt if salt is not None else os.urandom(32)
        self._rssi: dict[bytes, list[int]] = {}
        self._bins: dict[bytes, set[int]] = {}
        self._apple: set[bytes] = set()
        self._first: float | None = None
        self._last: float | None = None

    def add(self, t: float, rssi_dbm: int | None, sightings: Sequence[Sighting]) -> None:
        counted = [s for s in sightings if s.counted]
        if rssi_dbm is None or not counted:
            return
        key = hashlib.blake2b(counted[0].key, key=self._salt, digest_size=16).digest()
        self._rssi.setdefault(key, []).append(rssi_dbm)
        self._bins.setdefault(key, set()).add(int(t // BIN_SECONDS))
        if (counted[0].category, counted[0].stratum) in APPLE_SENT:
            self._apple.add(key)
        self._first = t if self._first is None else min(self._first, t)
        self._last = t if self._last is None else max(self._last, t)

    def proposal(self) -> GateProposal | None:
        """The gate from the strongest steady device, or None when none was steady."""
        if self._first is None or self._last is None:
            return None
        nbins = int(self._last // BIN_SECONDS) - int(self._first // BIN_SECONDS) + 1
        best: tuple[float, bytes] | None = None
        for key, bins in self._bins.items():
            share = len(bins) / nbins
            if share >= STEADY_SHARE:
                med = statistics.median(self._rssi[key])
                if best is None or med > best[0]:
                    best = (med, key)
        if best is None:
            return None
        med, key = best
        offset = APPLE_GATE_OFFSET_DB if key in self._apple else 0
        return GateProposal(
            gate_dbm=round(med) - offset, median_dbm=med, packets=len(self._rssi[key]),
            steady_share=len(self._bins[key]) / nbins, devices=len(self._rssi),
            seconds=self._last - self._first,
        )  # fmt: skip

    def forget(self) -> None:
        self._rssi.clear()
        self._bins.clear()
        self._apple.clear()
        self._salt = b""
