"""Per-window salted de-duplication: sightings in, anonymised counts out (pure)."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from scanner.errors import ScannerError
from scanner.wire.schema import SLOT_SECONDS

if TYPE_CHECKING:
    from scanner.ble.classify import Sighting

SaltFactory = Callable[[], bytes]
_DIGEST_BYTES: Final = 16
RSSI_GATE_OFF: Final = -127


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


class _KeySet:
    """Distinct keys under one salt; holds keyed digests, never the keys themselves."""

    __slots__ = ("_memo", "_salt", "_seen")

    def __init__(self, salt: bytes) -> None:
        self._salt = salt
        self._seen: dict[tuple[str, str], set[bytes]] = {}
        # Repeats of a key within the window skip blake2b (most adverts are repeats). The memo
        # holds keys only as long as the salt lives and is dropped with it.
        self._memo: dict[bytes, bytes] = {}

    def add(self, category: str, stratum: str, key: bytes) -> None:
        digest = self._memo.get(key)
        if digest is None:
            digest = hashlib.blake2b(key, key=self._salt, digest_size=_DIGEST_BYTES).digest()
            self._memo[key] = digest
        bucket = self._seen.get((category, stratum))
        if bucket is None:
            bucket = self._seen[(category, stratum)] = set()
        bucket.add(digest)

    def counts(self, strata: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for cat, stratum in strata:
            out.setdefault(cat, {})[stratum] = 0
        for (cat, stratum), bucket in self._seen.items():
            out.setdefault(cat, {})[stratum] = len(bucket)
        return out

    def forget(self) -> None:
        # Drop digests and salt together; without the salt a digest cannot be re-linked anyway.
        self._seen.clear()
        self._memo.clear()
        self._salt = b""


class WindowCounter:
    """Counts distinct devices per (category, stratum) in UTC-aligned windows.

    Windows start at multiples of `window_s` since the epoch, and `window_s` divides 900 s so a
    window never straddles a Bluezone ID rotation (docs/protocol.md §2.9). Rolling-ID sightings are
    also
    counted per quarter-hour slot under a salt that lives for the slot (docs/architecture.md §5),
    which is robust
    to the 15 s on / 15 s off duty cycle. Time only moves forward: a late advert is counted in the
    open window rather than reopening a closed one.
    """

    def __init__(
        self,
        *,
        window_s: int = 60,
        rssi_min_dbm: int = RSSI_GATE_OFF,
        strata: Iterable[tuple[str, str]] = (),
        rolling_strata: Iterable[tuple[str, str]] = (),
        salt_factory: SaltFactory = random_salt,
    ) -> None:
        if window_s <= 0 or SLOT_SECONDS % window_s:
            raise WindowError(f"window_s={window_s} must divide {SLOT_SECONDS} s (a quarter hour)")
        self.window_s = window_s
        self.rssi_min_dbm = rssi_min_dbm
        self._strata = tuple(strata)
        self._rolling_strata: set[tuple[str, str]] = set(rolling_strata)
        self._salt_factory = salt_factory
        self._start: int | None = None
        self._keys: _KeySet | None = None
        self._slot_start: int | None = None
        self._slot_keys: _KeySet | None = None
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
        if self.rssi_min_dbm > RSSI_GATE_OFF and (rssi_dbm is None or rssi_dbm < self.rssi_min_dbm):
            self._below_gate += 1
            return closed
        keys = self._keys
        assert keys is not None
        for s in sightings:
            if not s.counted:
                continue
            keys.add(s.category, s.stratum, s.key)
            if s.rolling:
                self._rolling_strata.add((s.category, s.stratum))
                slot_keys = self._slot_keys
                assert slot_keys is not None
                slot_keys.add(s.category, s.stratum, s.key)
        return closed

    def peek(self) -> dict[str, dict[str, int]]:
        """Counts so far in the open window (numbers only), for a live view."""
        if self._keys is None:
            return {}
        return self._keys.counts(self._strata)

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
        self._keys = _KeySet(self._salt_factory())
        slot_start = start - start % SLOT_SECONDS
        if self._slot_start != slot_start:
            if self._slot_keys is not None:
                self._slot_keys.forget()
            self._slot_start = slot_start
            self._slot_keys = _KeySet(self._salt_factory())
        self._adverts = self._below_gate = self._malformed = 0
        self._crc_failed = self._rssi_missing = 0
        self._scanned = 0.0

    def _close_current(self, end: int | None) -> WindowCounts:
        start = self._start
        keys = self._keys
        slot_keys = self._slot_keys
        assert start is not None and keys is not None and slot_keys is not None
        if end is not None and self._scanning_since is not None:
            self._add_scanned(end, float(start))
        rolling = sorted(self._rolling_strata)
        slot = slot_keys.counts(rolling)
        slot = {
            c: {s: n for s, n in v.items() if (c, s) in self._rolling_strata}
            for c, v in slot.items()
        }
        out = WindowCounts(
            window_start=start,
            window_s=self.window_s,
            counts=keys.counts(self._strata),
            slot_counts={c: v for c, v in slot.items() if v},
            adverts=self._adverts,
            below_gate=self._below_gate,
            malformed=self._malformed,
            scanned_s=min(float(self.window_s), round(self._scanned, 3)),
            crc_failed=self._crc_failed,
            rssi_missing=self._rssi_missing,
        )
        keys.forget()
        self._keys = None
        return out
