"""Durations as people type them ('90s', '10m', '1h30m', '45'): one parser for every command."""

from __future__ import annotations

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """'10m', '90s', '1h30m', '45' (seconds) -> seconds; ValueError with the fix otherwise."""
    total, num, seen = 0.0, "", False
    for ch in text.strip().lower():
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in _UNITS and num:
            total += float(num) * _UNITS[ch]
            num, seen = "", True
        else:
            raise ValueError(f"bad duration {text!r}: use e.g. 10m, 90s or 1h30m")
    if num:
        total += float(num)
    elif not seen:
        raise ValueError(f"bad duration {text!r}: use e.g. 10m, 90s or 1h30m")
    if total <= 0:
        raise ValueError(f"bad duration {text!r}: must be positive")
    return total
