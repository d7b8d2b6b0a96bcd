"""Per-window salted de-duplication: sightings in, anonymised counts out (pure)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from scanner.counting.keysets import SlotHistory, WindowKeys
from scanner.errors import ScannerError
from scanner.wire.schema import SLOT_SECONDS, SlotCapture

if TYPE_CHECKING:
    from scanner.ble.classify import Sighting

SaltFactory = Callable[[], bytes]
RSSI_GATE_OFF: Final = -127
# A device whose median RSSI lies this close below the gate counts as "near the gate" (leakage
# diagnostic; docs/method.md, on-site decision).
NEAR_GATE_DB: Final = 6
# iPhones transmit some 14-17 dB stronger than Bluezone Android's low TX power, with which the
# gate is calibrated: Bluezone's own thresholds were Android<-Android -86 and Android<-iOS -69,
# iOS<-Android -88 and iOS<-iOS -74 dBm (docs/protocol.md, proximity). Apple-sent keys must meet
# the gate plus the smaller gap, so that one gate keeps out iPhones as far away as Androids.
APPLE_GATE_OFFSET_DB: Final = 14
APPLE_SENT: Final = frozenset({("bluezone", "ios_fg"), ("bluezone", "ios_bg"), ("iphone", "all")})
# Capture histories are published for these categories (the estimators' strata).
CAPTURE_CATEGORIES: Final = frozenset({"bluezone", "iphone"})


def random_salt() -> bytes:
    return os.urandom(32)


class WindowError(ScannerError, ValueError):
    """A counter configured in a way that breaks slot alignment."""


@dataclass(frozen=True, slots=True)
class WindowCounts:
    """What survives a window close: numbers only."""

    window_start: int
    window_s: int
    counts: dict[str, dict[str, int]]
    slot_counts: dict[str, dict[str, int]]
    adverts: int
    below_gate: int
    malformed: int
    scanned_s: float
    crc_failed: int = 0  # frames a replay dropped in this window because their CRC failed
    rssi_missing: int = 0  # adverts without RSSI: the gate could not judge them
    near_gate: int = 0
    capture: dict[str, dict[str, SlotCapture]] = field(default_factory=dict)


class WindowCounter:
    """Counts distinct devices per (category, stratum) in UTC-aligned windows.

    Windows start at multiples of `window_s` since the epoch, and `window_s` divides 900 s so a
    window never straddles a Bluezone ID rotation (docs/protocol.md §2.9). A device is on site in
    a window when at least half its packets reach the RSSI gate (its median does): one packet
    lifted over the gate by fading does not count a neighbour's phone (docs/method.md). On-site
    keys are also tracked per quarter-hour slot under a salt that lives for the slot
    (docs/architecture.md §5): rolling-ID strata report their distinct count so far, and the
    window that closes a slot carries the slot's aggregate capture histories. Time only moves
    forward: a late advert is counted in the open window rather than reopening a closed one.
    """

    def __init__(
        self,
        *,
        window_s: int = 60,
        rssi_min_dbm: int = RSSI_GATE_OFF,
        strata: Iterable[tuple[str, str]] = (),
        rolling_strata: Iterable[tuple[str, str]] = (),
        salt_factory: SaltFactory = random_salt,
        capture_k_min: int = 1,
        capture_categories: frozenset[str] = CAPTURE_CATEGORIES,
    ) -> None:
        if window_s <= 0 or SLOT_SECONDS % window_s:
            raise WindowError(f"window_s={window_s} must divide {SLOT_SECONDS} s (a quarter hour)")
        self.window_s = window_s
        self.rssi_min_dbm = rssi_min_dbm
        self._strata = tuple(strata)
        self._rolling_strata: set[tuple[str, str]] = set(rolling_strata)
        self._salt_factory = salt_factory
        self._k_min = max(1, capture_k_min)
        self._capture_categories = capture_categories
        self._start: int | None = None
        self._keys: WindowKeys | None = None
        self._slot_start: int | None = None
        self._slot_keys: SlotHistory | None = None
        self._adverts = 0
        self._below_gate = 0
        self._malformed = 0
        self._crc_failed = 0
        self._rssi_missing = 0
        self._scanning_since: float | None = None
        self._scanned = 0.0

    @property
    def window_start(self) -> int | None:
        return self._start

    def start(self, t: float) -> list[WindowCounts]:
        """Scanning (re)started at `t`; closes any window that ended before."""
        closed = self.advance(t)
        if self._scanning_since is None:
            self._scanning_since = t
        return closed

    def stop(self, t: float) -> list[WindowCounts]:
        """Scanning paused at `t`: the seconds until the next start do not count as covered."""
        closed = self.advance(t)
        if self._scanning_since is not None:
            self._add_scanned(t, float(self._start or 0))
            self._scanning_since = None
        return closed

    def add(
        self, t: float, rssi_dbm: int | None, sightings: Sequence[Sighting]
    ) -> list[WindowCounts]:
        """Count one advert's sightings at time `t`; returns any windows that closed before `t`."""
        closed = self.advance(t) if self._start is None or t >= self._start + self.window_s else []
        self._adverts += 1
        if rssi_dbm is None:
            self._rssi_missing += 1
        gate = self.rssi_min_dbm
        above = near = True
        if gate > RSSI_GATE_OFF:
            above = rssi_dbm is not None and rssi_dbm >= gate
            near = rssi_dbm is not None and rssi_dbm >= gate - NEAR_GATE_DB
            if not above:
                self._below_gate += 1
        keys = self._keys
        assert keys is not None
        apple = gate + APPLE_GATE_OFFSET_DB
        for s in sightings:
            if not s.counted:
                continue
            if gate > RSSI_GATE_OFF and (s.category, s.stratum) in APPLE_SENT:
                r = RSSI_GATE_OFF if rssi_dbm is None else rssi_dbm
                keys.add(s.category, s.stratum, s.key, r >= apple, r >= apple - NEAR_GATE_DB)
            else:
                keys.add(s.category, s.stratum, s.key, above, near)
            if s.rolling:
                self._rolling_strata.add((s.category, s.stratum))
        return closed

    def peek(self) -> dict[str, dict[str, int]]:
        """Counts so far in the open window (numbers only), for a live view."""
        if self._keys is None:
            return {}
        return self._count(self._keys.decide()[0])

    def _count(self, onsite: dict[tuple[str, str], list[bytes]]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for cat, stratum in self._strata:
            out.setdefault(cat, {})[stratum] = 0
        for (cat, stratum), keys in onsite.items():
            out.setdefault(cat, {})[stratum] = len(keys)
        return out

    def note_malformed(self, n: int = 1) -> None:
        self._malformed += n

    def note_crc_failed(self, t: float) -> list[WindowCounts]:
        """A frame at `t` failed its CRC; returns any windows that closed before `t`."""
        closed = self.advance(t) if self._start is None or t >= self._start + self.window_s else []
        self._crc_failed += 1
        return closed

    def advance(self, t: float) -> list[WindowCounts]:
        """Close every window that ends at or before `t`, empty ones included."""
        if not math.isfinite(t):
            return []
        if self._start is None:
            self._open(int(t // self.window_s) * self.window_s)
            return []
        closed: list[WindowCounts] = []
        while t >= self._start + self.window_s:
            closed.append(self._close_current(self._start + self.window_s))
            self._open(self._start + self.window_s)
        return closed

    def close(self, t: float | None = None) -> list[WindowCounts]:
        """End of input: close the open window (partially covered up to `t`)."""
        if self._start is None:
            return []
        end = self._start + self.window_s
        closed = self.advance(t) if t is not None and t >= end else []
        if self._start is None:
            return closed
        if t is not None and self._scanning_since is not None:
            self._add_scanned(min(t, end), float(self._start))
            self._scanning_since = None
        closed.append(self._close_current(None))
        self._start = None
        if self._slot_keys is not None:
            self._slot_keys.forget()
            self._slot_keys = None
            self._slot_start = None
        return closed

    def _add_scanned(self, until: float, window_start: float) -> None:
        # Listening since `_scanning_since` (or the window's start, if later) up to `until`.
        assert self._scanning_since is not None
        self._scanned += max(0.0, until - max(self._scanning_since, window_start))

    def _open(self, start: int) -> None:
        self._start = start
        self._keys = WindowKeys(self._salt_factory())
        slot_start = start - start % SLOT_SECONDS
        if self._slot_start != slot_start:
            if self._slot_keys is not None:
                self._slot_keys.forget()
            self._slot_start = slot_start
            self._slot_keys = SlotHistory(self._salt_factory())
        self._adverts = self._below_gate = self._malformed = 0
        self._crc_failed = self._rssi_missing = 0
        self._scanned = 0.0

    def _close_current(self, end: int | None) -> WindowCounts:
        start = self._start
        keys = self._keys
        slot_keys = self._slot_keys
        assert start is not None and keys is not None and slot_keys is not None
        assert self._slot_start is not None
        if end is not None and self._scanning_since is not None:
            self._add_scanned(end, float(start))
        onsite, near = keys.decide()
        slot_keys.add_window((start - self._slot_start) // self.window_s, onsite)
        slot: dict[str, dict[str, int]] = {}
        for cat, stratum in sorted(self._rolling_strata):
            slot.setdefault(cat, {})[stratum] = slot_keys.distinct((cat, stratum))
        # The window that ends the slot (or the input) carries the slot's capture histories.
        slot_ends = end is None or end % SLOT_SECONDS == 0
        out = WindowCounts(
            window_start=start,
            window_s=self.window_s,
            counts=self._count(onsite),
            slot_counts={c: v for c, v in slot.items() if v},
            adverts=self._adverts,
            below_gate=self._below_gate,
            malformed=self._malformed,
            scanned_s=min(float(self.window_s), round(self._scanned, 3)),
            crc_failed=self._crc_failed,
            rssi_missing=self._rssi_missing,
            near_gate=near,
            capture=slot_keys.captures(self._capture_categories, self._k_min) if slot_ends else {},
        )
        keys.forget()
        self._keys = None
        return out
