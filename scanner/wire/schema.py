"""The wire contract v1: WindowReport, Health and their invariants (stdlib only)."""

from __future__ import annotations

import calendar
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from scanner.errors import ScannerError

SCHEMA_VERSION: Final = 1
TOPIC_ROOT: Final = "bzaudit/v1"
MAX_PAYLOAD_BYTES: Final = 16_384
MAX_COUNT: Final = 1_000_000
MAX_FUTURE_SECONDS: Final = 300
# Windows must divide a quarter hour: Bluezone IDs rotate on UTC :00/:15/:30/:45 (docs/protocol.md
# §2.9).
SLOT_SECONDS: Final = 900
SCAN_MODES: Final = frozenset({"active", "passive", "replay", "simulated"})

# Ids end up in MQTT topics: no wildcards, no slashes, nothing a shell or a file name trips over.
_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ISO_RE: Final = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z\Z")
_MAX_NAMES: Final = 16


class SchemaError(ScannerError, ValueError):
    """A payload or report that breaks the v1 wire contract; `reason` is short and stable."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


Counts = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Health:
    """How well the node listened during the window; the estimator drops poorly covered windows."""

    scanned_s: float
    adverts: int
    mode: str
    adapter: str | None = None
    restarts: int = 0
    clock_synced: bool | None = None
    rssi_min_dbm: int = -127
    below_gate: int = 0
    malformed: int = 0
    outbox_dropped: int = 0
    # Replayed captures: frames dropped because their CRC-24 failed (docs/protocol.md §6), and
    # False when some advert came without RSSI, so the on-site gate could not judge it. On the
    # wire only when they differ from these defaults.
    crc_failed: int = 0
    rssi_available: bool = True
    # Devices whose median RSSI in the window fell within NEAR_GATE_DB below the gate: a leakage
    # diagnostic (additive v1 field, sent only when non-zero).
    near_gate: int = 0


@dataclass(frozen=True, slots=True)
class SlotCapture:
    """Aggregate capture history of one stratum over one quarter-hour slot (no identifiers).

    `windows` windows of the slot were listened to, `pairs1`/`pairs2` of their window pairs one
    and two windows apart were both listened to; `seen[k-1]` devices were seen in exactly k of
    the windows; `lag1`/`lag2` count (device, window) pairs seen in a window and again one or two
    windows later; `run3` counts devices seen in three consecutive windows (docs/method.md).
    """

    windows: int
    pairs1: int
    pairs2: int
    seen: tuple[int, ...]
    lag1: int
    lag2: int
    run3: int

    @property
    def devices(self) -> int:
        return sum(self.seen)

    @property
    def detections(self) -> int:
        return sum(k * f for k, f in enumerate(self.seen, start=1))


Captures = Mapping[str, Mapping[str, SlotCapture]]
_CAPTURE_INTS: Final = ("windows", "pairs1", "pairs2", "lag1", "lag2", "run3")


@dataclass(frozen=True, slots=True)
class WindowReport:
    """Anonymised counts of one node for one UTC-aligned window. Nothing below a count."""

    node: str
    site: str
    seq: int
    window_start: int
    window_s: int
    counts: Counts
    health: Health
    slot_counts: Counts = field(default_factory=dict)
    software: str = ""
    headcount: int | None = None
    # Sent with the window that closes a slot (additive v1 field, absent when empty).
    capture: Captures = field(default_factory=dict)

    @property
    def window_end(self) -> int:
        return self.window_start + self.window_s

    def count(self, category: str, stratum: str | None = None) -> int:
        """One stratum's count, or the category's sum over strata when `stratum` is None."""
        strata = self.counts.get(category, {})
        if stratum is None:
            return sum(strata.values())
        return strata.get(stratum, 0)


def check_id(value: str, what: str) -> str:
    """Validate a node or site id (used by the CLI before anything is published)."""
    if not _matches(_IDS_SEEN, _ID_RE, value):
        raise SchemaError(
            f"bad_{what}",
            f"{value!r}: use 1-64 letters, digits, '_', '-' or '.', starting alphanumeric",
        )
    return value


def iso_utc(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(text: str) -> int:
    if type(text) is not str:
        raise SchemaError("bad_window_start", repr(text)[:60])
    return _parse_iso_utc(text)


# Every node sends the same window starts in the same minute, so most are parsed already.
@functools.lru_cache(maxsize=4096)
def _parse_iso_utc(text: str) -> int:
    # A regex and calendar.timegm instead of strptime: strptime was ~40 µs a message, most of the
    # aggregator's decode time at thousands of windows per second.
    m = _ISO_RE.match(text)
    if m is None:
        raise SchemaError("bad_window_start", repr(text)[:60])
    y, mo, d, h, mi, sec = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60):
        raise SchemaError("bad_window_start", repr(text)[:60])
    if sec > 59:
        raise SchemaError("bad_window_start", repr(text)[:60])
    return calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))


def validate(report: WindowReport, *, now: float | None = None) -> WindowReport:
    """Check every invariant of the contract; returns the report so it chains."""
    check_id(report.node, "node")
    check_id(report.site, "site")
    if not _is_int(report.seq) or not 0 <= report.seq < 2**53:
        raise SchemaError("bad_seq", repr(report.seq))
    if not _is_int(report.window_s) or report.window_s <= 0 or SLOT_SECONDS % report.window_s:
        raise SchemaError("bad_window_s", f"{report.window_s!r} must divide {SLOT_SECONDS}")
    if not _is_int(report.window_start) or report.window_start % report.window_s:
        raise SchemaError("bad_window_start", "not aligned to a UTC multiple of window_s")
    if now is not None and report.window_start > now + MAX_FUTURE_SECONDS:
        raise SchemaError("future_window", iso_utc(report.window_start))
    _check_counts(report.counts, "counts")
    _check_counts(report.slot_counts, "slot_counts")
    _check_health(report.health, report.window_s)
    _check_capture(report.capture, report.window_s)
    if report.headcount is not None and (
        not _is_int(report.headcount) or not 0 <= report.headcount <= MAX_COUNT
    ):
        raise SchemaError("bad_headcount", repr(report.headcount))
    if not isinstance(report.software, str) or len(report.software) > 64:
        raise SchemaError("bad_software")
    return report


def _check_counts(counts: object, what: str) -> None:
    # `type(x) is dict/int` first: the exact types decoded JSON has, far cheaper than the ABC
    # and bool checks, which still decide everything else.
    if (type(counts) is not dict and not isinstance(counts, Mapping)) or len(counts) > _MAX_NAMES:
        raise SchemaError(f"bad_{what}", "not an object of categories")
    for cat, strata in counts.items():
        if not _matches(_NAMES_SEEN, _NAME_RE, cat):
            raise SchemaError(f"bad_{what}", f"category {cat!r}"[:80])
        if (type(strata) is not dict and not isinstance(strata, Mapping)) or len(
            strata
        ) > _MAX_NAMES:
            raise SchemaError(f"bad_{what}", f"{cat}: not an object of strata")
        for stratum, n in strata.items():
            if not _matches(_NAMES_SEEN, _NAME_RE, stratum):
                raise SchemaError(f"bad_{what}", f"stratum {stratum!r}"[:80])
            if type(n) is not int and not _is_int(n):
                raise SchemaError(f"bad_{what}", f"{cat}/{stratum} is not an integer")
            if n < 0:
                raise SchemaError("negative_count", f"{cat}/{stratum}={n}")
            if n > MAX_COUNT:
                raise SchemaError("count_too_large", f"{cat}/{stratum}={n}")


def _check_health(h: Health, window_s: int) -> None:
    if not isinstance(h.scanned_s, int | float) or isinstance(h.scanned_s, bool):
        raise SchemaError("bad_health", "scanned_s")
    if not math.isfinite(h.scanned_s) or not 0 <= h.scanned_s <= window_s + 1e-6:
        raise SchemaError("bad_health", f"scanned_s={h.scanned_s!r} outside 0..{window_s}")
    for name in (
        "adverts", "restarts", "below_gate", "malformed", "outbox_dropped", "crc_failed",
        "near_gate",
    ):  # fmt: skip
        v = getattr(h, name)
        if not _is_int(v) or not 0 <= v < 2**53:
            raise SchemaError("bad_health", f"{name}={v!r}"[:80])
    if not _is_int(h.rssi_min_dbm) or not -127 <= h.rssi_min_dbm <= 20:
        raise SchemaError("bad_health", f"rssi_min_dbm={h.rssi_min_dbm!r}"[:80])
    if h.mode not in SCAN_MODES:
        raise SchemaError("bad_health", f"mode={h.mode!r}"[:80])
    if h.adapter is not None and (not isinstance(h.adapter, str) or len(h.adapter) > 32):
        raise SchemaError("bad_health", "adapter")
    if h.clock_synced is not None and not isinstance(h.clock_synced, bool):
        raise SchemaError("bad_health", "clock_synced")
    if not isinstance(h.rssi_available, bool):
        raise SchemaError("bad_health", "rssi_available")


def _check_capture(capture: object, window_s: int) -> None:
    if not isinstance(capture, Mapping) or len(capture) > _MAX_NAMES:
        raise SchemaError("bad_capture", "not an object of categories")
    most = SLOT_SECONDS // window_s
    for cat, strata in capture.items():
        if not isinstance(cat, str) or not _NAME_RE.match(cat) or not isinstance(strata, Mapping):
            raise SchemaError("bad_capture", f"category {cat!r}"[:80])
        for stratum, c in strata.items():
            if not isinstance(stratum, str) or not _NAME_RE.match(stratum):
                raise SchemaError("bad_capture", f"stratum {stratum!r}"[:80])
            if not isinstance(c, SlotCapture):
                raise SchemaError("bad_capture", f"{cat}/{stratum} is not a capture history")
            values = [getattr(c, n) for n in _CAPTURE_INTS]
            if not isinstance(c.seen, tuple) or not all(_is_int(v) for v in (*values, *c.seen)):
                raise SchemaError("bad_capture", f"{cat}/{stratum}: not integers")
            if min((*values, *c.seen), default=0) < 0 or max(values) > MAX_COUNT:
                raise SchemaError("bad_capture", f"{cat}/{stratum}: out of range")
            # Internal consistency: what a histogram summarises bounds it.
            n, d = c.windows, c.devices
            if (
                not 1 <= n <= most
                or len(c.seen) != n
                or c.pairs1 > n - 1
                or c.pairs2 > max(0, n - 2)
                or c.lag1 > d * c.pairs1
                or c.lag2 > d * c.pairs2
                or c.run3 > c.lag2
            ):
                raise SchemaError("bad_capture", f"{cat}/{stratum}: inconsistent")


# Ids and names that matched their pattern: the same few thousand arrive in every batch.
# Exact `str` only (a subclass may compare equal to a remembered one yet be something else);
# bounded, so a flood of distinct names cannot grow them without end.
_IDS_SEEN: set[str] = set()
_NAMES_SEEN: set[str] = set()
_SEEN_MAX: Final = 50_000


def _matches(seen: set[str], pattern: re.Pattern[str], value: object) -> bool:
    if type(value) is not str:  # also keeps unhashable values (lists) out of the set lookup
        return isinstance(value, str) and bool(pattern.match(value))
    if value in seen:
        return True
    if not pattern.match(value):
        return False
    if len(seen) >= _SEEN_MAX:
        seen.clear()
    seen.add(value)
    return True


def _is_int(value: object) -> bool:
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))
