"""Replay statistics and the scan-response merge: reports in, host-level rows out (pure).

A host only learns a scan response after the advert it answers, so an advert is emitted as it
arrives and, when a SCAN_RSP from the same address follows within `MERGE_WINDOW_S`, a second row
carries that advert's data *and* the response, with the response's time and RSSI (what BlueZ
reports as a device-found update). A response with nothing to merge into is emitted alone with
`adv=b""` and `pdu=SCAN_RSP`. Rows are tuples in `RawAdvert` field order, so `RawAdvert(*row)`
builds one and the replay fast path can skip the object entirely.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from scanner.ble.advert import PduKind
from scanner.sources.replay.frames import Report

# docs/protocol.md §6: merge a SCAN_RSP into the advert of the same AdvA seen within ~1 s.
MERGE_WINDOW_S: Final = 1.0
PRUNE_AT: Final = 8192  # remembered adverts before the stale ones are dropped
BATCH_ROWS: Final = 4096

Row = tuple[float, str, int | None, bytes, bytes | None, PduKind]
Feed = Callable[[float, str, int | None, bytes, bytes | None], None]
OnDrop = Callable[[float], None]
_SCAN_RSP: Final = PduKind.SCAN_RSP
_NONCONN: Final = PduKind.ADV_NONCONN_IND


@dataclass(slots=True)
class ReplayStats:
    """What a replay read and what it had to skip (numbers only, printed in the summary)."""

    format: str | None = None
    linktype: int | None = None
    records: int = 0
    adverts: int = 0
    scan_responses_merged: int = 0
    orphan_scan_responses: int = 0
    skipped_corrupt: int = 0
    crc_failed: int = 0  # frames dropped: the sniffer said, or our CRC-24 found, the CRC bad
    crc_verified: int = 0  # frames whose CRC nobody had checked, verified by the reader
    crc_absent: int = 0  # frames without their CRC (the sniffer stripped it): unchecked
    rssi_missing: int = 0  # adverts without RSSI (no PHDR signal, HCI 127, JSON null)
    non_advert: int = 0
    truncated: bool = False
    bytes_read: int = 0


class Batch(list[Row]):
    """Rows, plus the CRC failures among them: (index of the row they preceded, time)."""

    __slots__ = ("drops",)

    def __init__(self) -> None:
        super().__init__()
        self.drops: list[tuple[int, float]] = []


class Merger:
    """Turns decoded reports into rows, merging scan responses; collects rows in `out`."""

    __slots__ = (
        "adverts", "batch", "crc_failed", "fast_records", "feed", "last", "limit", "merged",
        "no_rssi", "on_drop", "orphans", "out", "stats",
    )  # fmt: skip

    def __init__(
        self,
        stats: ReplayStats,
        batch: int = BATCH_ROWS,
        feed: Feed | None = None,
        on_drop: OnDrop | None = None,
    ) -> None:
        self.stats = stats
        self.batch = batch
        # With `feed`, rows go straight to it (t, address, rssi, adv, scan_rsp) instead of `out`,
        # and CRC failures to `on_drop(t)`; without, both wait in the batch (`Batch.drops`).
        self.feed = feed
        self.on_drop = on_drop
        self.out = Batch()
        # address -> (t, adv data, kind) of its latest scannable advert
        self.last: dict[str, tuple[float, bytes, PduKind]] = {}
        self.limit = PRUNE_AT
        self.adverts = self.merged = self.orphans = self.fast_records = 0
        self.crc_failed = self.no_rssi = 0

    def drop(self, t: float) -> None:
        """A frame at `t` failed its CRC: counted, and kept in order with the rows around it."""
        self.crc_failed += 1
        if self.on_drop is not None:
            self.on_drop(t)
        else:
            self.out.drops.append((len(self.out), t))

    def add(self, t: float, r: Report | list[Report]) -> None:
        if isinstance(r, list):
            for kind, addr, rssi, data in r:
                self.add_one(t, kind, addr, rssi, data)
        else:
            self.add_one(t, *r)

    def add_one(self, t: float, kind: PduKind, addr: str, rssi: int | None, data: bytes) -> None:
        self.adverts += 1
        if rssi is None:
            self.no_rssi += 1
        row: Row
        if kind is _SCAN_RSP:
            prev = self.last.get(addr)
            if prev is not None and 0.0 <= t - prev[0] <= MERGE_WINDOW_S:
                self.merged += 1
                row = (t, addr, rssi, prev[1], data, prev[2])
            else:
                self.orphans += 1
                row = (t, addr, rssi, b"", data, _SCAN_RSP)
        else:
            if kind is not _NONCONN:  # non-connectable, non-scannable adverts get no response
                last = self.last
                if len(last) >= self.limit:
                    self.prune(t)
                last[addr] = (t, data, kind)
            row = (t, addr, rssi, data, None, kind)
        if self.feed is not None:
            self.feed(*row[:5])
        else:
            self.out.append(row)

    def prune(self, t: float) -> None:
        last = self.last
        for addr in [a for a, v in last.items() if not 0.0 <= t - v[0] <= MERGE_WINDOW_S]:
            del last[addr]
        self.limit = max(PRUNE_AT, 2 * len(last))

    def take(self) -> Batch:
        out = self.out
        self.out = Batch()
        return out

    def flush_stats(self) -> None:
        st = self.stats
        st.adverts += self.adverts
        st.scan_responses_merged += self.merged
        st.orphan_scan_responses += self.orphans
        st.crc_failed += self.crc_failed
        st.rssi_missing += self.no_rssi
        self.adverts = self.merged = self.orphans = self.crc_failed = self.no_rssi = 0
