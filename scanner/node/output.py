"""Plain-text window lines and run summaries for `bzscan` (numbers only, never identifiers)."""

from __future__ import annotations

from typing import TextIO

from scanner.wire.codec import encode
from scanner.wire.schema import WindowReport, iso_utc

HEADER = (
    f"{'window (UTC)':<20} {'bz_and':>6} {'slot':>5} {'bz_fg':>5} {'bz_bg':>5} "
    f"{'iphone':>6} {'phone':>5} {'other':>5} {'adverts':>8} {'gated':>6} {'scan_s':>6}"
)

LEGEND = (
    "bz_and: Bluezone Android IDs this window; slot: Android IDs so far this quarter hour;\n"
    "bz_fg/bz_bg: Bluezone iPhones (foreground/background); iphone, phone, other: devices;\n"
    "adverts: adverts heard; gated: adverts below the RSSI gate; scan_s: seconds listened"
)


def window_line(r: WindowReport) -> str:
    slot = r.slot_counts.get("bluezone", {}).get("android", 0)
    return (
        f"{iso_utc(r.window_start):<20} {r.count('bluezone', 'android'):>6} {slot:>5} "
        f"{r.count('bluezone', 'ios_fg'):>5} {r.count('bluezone', 'ios_bg'):>5} "
        f"{r.count('iphone'):>6} {r.count('phone'):>5} {r.count('other'):>5} "
        f"{r.health.adverts:>8} {r.health.below_gate:>6} {r.health.scanned_s:>6.1f}"
    )


def legend_text(as_json: bool) -> str | None:
    """The table's column legend, printed under it (JSON lines need none)."""
    return None if as_json else LEGEND


class WindowPrinter:
    """Sink printing one line per window: a table for people, encoded JSON for machines."""

    def __init__(self, out: TextIO, *, as_json: bool, key: bytes | None = None) -> None:
        self._out = out
        self._json = as_json
        self._key = key
        self._header_done = False

    def __call__(self, report: WindowReport) -> None:
        if self._json:
            self._out.write(encode(report, key=self._key).decode() + "\n")
        else:
            if not self._header_done:
                self._out.write(HEADER + "\n")
                self._header_done = True
            self._out.write(window_line(report) + "\n")
        self._out.flush()
