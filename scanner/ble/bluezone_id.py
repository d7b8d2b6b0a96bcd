"""Bluezone v2 rolling-ID derivation (pure; docs/protocol.md §2.9, RNBS `bluezoneid/*`)."""

from __future__ import annotations

import hashlib
from typing import Final

SUBKEY_SALT: Final = b"bluzonesubkey"  # sic: the app's own spelling
SLOTS_PER_DAY: Final = 96  # BZA config value since 13 May 2020 -> 15-min UTC slots
DAY_SECONDS: Final = 86_400
ID_OFFSETS: Final = (0, 4, 8, 12, 16, 18, 20, 22, 24, 26, 28, 30)


def daily_key(base_key: bytes, days_since: int) -> bytes:
    """Daily key: SHA-256 applied `days_since` times to the 32-byte base key."""
    if days_since < 0:
        raise ValueError("days_since must be >= 0")
    key = base_key
    for _ in range(days_since):
        key = hashlib.sha256(key).digest()
    return key


def subkey(daily: bytes, slot: int) -> bytes:
    """s_slot of the chain s_0 = SHA-256(daily || "bluzonesubkey"), s_(i+1) = SHA-256(s_i)."""
    if slot < 0:
        raise ValueError("slot must be >= 0")
    s = hashlib.sha256(daily + SUBKEY_SALT).digest()
    for _ in range(slot):
        s = hashlib.sha256(s).digest()
    return s


def bluezone_id(daily: bytes, slot: int, n_per_day: int = SLOTS_PER_DAY) -> bytes:
    """The 12-byte ID advertised in `slot` (0 .. n_per_day-1) of the day of `daily`."""
    if not 0 <= slot < n_per_day:
        raise ValueError(f"slot {slot} outside 0..{n_per_day - 1}")
    s = subkey(daily, slot)
    return bytes(s[i] for i in ID_OFFSETS)


def day_ids(daily: bytes, n_per_day: int = SLOTS_PER_DAY) -> list[bytes]:
    """All IDs of one day, in slot order (one chain walk instead of n)."""
    s = hashlib.sha256(daily + SUBKEY_SALT).digest()
    out = []
    for _ in range(n_per_day):
        out.append(bytes(s[i] for i in ID_OFFSETS))
        s = hashlib.sha256(s).digest()
    return out


def slot_of(t: float, n_per_day: int = SLOTS_PER_DAY) -> int:
    """Slot index of UTC epoch time `t` within its UTC day."""
    return int((t % DAY_SECONDS) // (DAY_SECONDS / n_per_day))


def day_of(t: float) -> int:
    """UTC day number (days since 1970-01-01) of epoch time `t`."""
    return int(t // DAY_SECONDS)


def id_at(base_key: bytes, base_day: int, t: float, n_per_day: int = SLOTS_PER_DAY) -> bytes:
    """The ID a phone whose base key was created on UTC day `base_day` advertises at time `t`."""
    return bluezone_id(daily_key(base_key, day_of(t) - base_day), slot_of(t, n_per_day), n_per_day)


_ALNUM: Final = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def encode_v1_name(blid: str, d1: int, d2: int) -> str:
    """The 10-char local name iOS Bluezone v1 advertised for a 6-char BLID (docs/protocol.md
    §2.4).
    """
    if len(blid) != 6 or d1 == d2 or not (1 <= d1 <= 5 and 1 <= d2 <= 5):
        raise ValueError("need a 6-char BLID and two different digits 1..5")
    s, e = sorted((d1, d2))
    x = blid[:e] + blid[s - 1] + blid[e:]  # char at 1-based s inserted at 0-based e
    x = x[:s] + x[e - 1] + x[s:]  # then char at 1-based e inserted at 0-based s
    return f"{d1}{x}{d2}"


def decode_v1_name(name: str | None) -> str | None:
    """The BLID hidden in an iOS v1 name, or None if `name` is not such a name (never raises)."""
    if name is None or len(name) != 10 or not name.isascii():
        return None
    d1, d2 = name[0], name[-1]
    if d1 not in "12345" or d2 not in "12345" or d1 == d2:
        return None
    s, e = sorted((int(d1), int(d2)))
    x = name[1:-1]
    if not all(ord(ch) in _ALNUM for ch in x):
        return None
    a, b = x[s], x[e + 1]
    blid = x[: e + 1] + x[e + 2 :]
    blid = blid[:s] + blid[s + 1 :]
    if a != blid[e - 1] or b != blid[s - 1]:
        return None
    return blid
