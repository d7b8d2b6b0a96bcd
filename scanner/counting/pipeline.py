"""One pipeline for every source: classify -> count per window -> WindowReport -> sink (pure)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from scanner import __version__
from scanner.ble.advert import Advert, RawAdvert
from scanner.counting.window import (
    RSSI_GATE_OFF,
    SaltFactory,
    WindowCounter,
    WindowCounts,
    random_salt,
)
from scanner.wire.schema import Health, WindowReport

if TYPE_CHECKING:
    from scanner.ble.classify import Classifier

Sink = Callable[[WindowReport], None]
SOFTWARE = f"bluezone-audit/{__version__}"
# Bluezone Android's 12-byte ID is the only rolling key that stays valid for a whole UTC slot.
DEFAULT_ROLLING_STRATA = (("bluezone", "android"),)


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who is counting and how; copied into every window's health."""

    node: str
    site: str
    mode: str = "replay"
    adapter: str | None = None
    clock_synced: bool | None = None
    software: str = SOFTWARE


@dataclass(slots=True)
class RunSummary:
    """Totals for the end-of-run summary line (numbers only)."""

    windows: int = 0
    adverts: int = 0
    below_gate: int = 0
    malformed: int = 0
    crc_failed: int = 0
    rssi_missing: int = 0
    restarts: int = 0
    first_t: float | None = None
    last_t: float | None = None
    reports: list[WindowReport] = field(default_factory=list)


class Pipeline:
    """Feeds adverts through the classifier into a WindowCounter and emits WindowReports.

    Sources call `feed`/`feed_raw` with their own time stamps; live sources also call `tick`
    every second so empty windows close on time. The sink receives every closed window, in order.
    """

    def __init__(
        self,
        classifier: Classifier,
        *,
        identity: NodeIdentity,
        sink: Sink,
        window_s: int = 60,
        rssi_min_dbm: int = RSSI_GATE_OFF,
        headcount: int | None = None,
        next_seq: Callable[[], int] | None = None,
        outbox_dropped: Callable[[], int] | None = None,
        salt_factory: SaltFactory = random_salt,
        keep_reports: bool = False,
    ) -> None:
        self.classifier = classifier
        self.identity = identity
        self._sink = sink
        self._headcount = headcount
        counter = itertools.count()
        self._next_seq = next_seq or (lambda: next(counter))
        self._outbox_dropped = outbox_dropped or (lambda: 0)
        rolling = [s for s in DEFAULT_ROLLING_STRATA if s in set(classifier.strata())]
        self.counter = WindowCounter(
            window_s=window_s,
            rssi_min_dbm=rssi_min_dbm,
            strata=classifier.strata(),
            rolling_strata=rolling,
            salt_factory=salt_factory,
        )
        self._restarts_in_window = 0
        self._keep = keep_reports
        self.summary = RunSummary()

    def start(self, t: float) -> None:
        self._emit(self.counter.start(t))
        if self.summary.first_t is None:
            self.summary.first_t = t

    def stop(self, t: float) -> None:
        self._emit(self.counter.stop(t))

    def note_restart(self) -> None:
        self._restarts_in_window += 1
        self.summary.restarts += 1

    def note_malformed(self, n: int = 1) -> None:
        self.counter.note_malformed(n)
        self.summary.malformed += n

    def note_crc_failed(self, t: float) -> None:
        """A captured frame at `t` failed its CRC: counted in the window it falls in."""
        s = self.summary
        if s.first_t is None:
            s.first_t = t
            self._emit(self.counter.start(t))
        s.last_t = t if s.last_t is None else max(s.last_t, t)
        s.crc_failed += 1
        self._emit(self.counter.note_crc_failed(t))

    def feed(self, advert: Advert | RawAdvert) -> None:
        if isinstance(advert, RawAdvert):
            self.feed_raw(advert.t, advert.address, advert.rssi_dbm, advert.adv, advert.scan_rsp)
            return
        sightings = self.classifier.classify(advert, advert.address)
        self._count(advert.t, advert.rssi_dbm, sightings)

    def feed_raw(
        self, t: float, address: str, rssi_dbm: int | None, adv: bytes, scan_rsp: bytes | None
    ) -> None:
        # Hot path for replay: no Advert object, the classifier works on the AD bytes directly.
        self._count(t, rssi_dbm, self.classifier.classify_raw(adv, scan_rsp, address))

    def feed_many(self, adverts: Iterable[RawAdvert]) -> None:
        for a in adverts:
            self.feed_raw(a.t, a.address, a.rssi_dbm, a.adv, a.scan_rsp)

    def tick(self, t: float) -> None:
        self._emit(self.counter.advance(t))

    def finish(self, t: float | None = None) -> RunSummary:
        """Close the open window (partially covered if the input ended early)."""
        if t is not None:
            self.summary.last_t = max(t, self.summary.last_t or t)
        self._emit(self.counter.close(t))
        return self.summary

    def _count(self, t: float, rssi_dbm: int | None, sightings: tuple[object, ...]) -> None:
        s = self.summary
        if s.first_t is None:
            s.first_t = t
            self._emit(self.counter.start(t))
        s.last_t = t
        s.adverts += 1
        closed = self.counter.add(t, rssi_dbm, sightings)  # type: ignore[arg-type]
        if closed:
            self._emit(closed)

    def _emit(self, closed: list[WindowCounts]) -> None:
        if closed:
            # The classifier caches payloads (Bluezone IDs, RPIs) and addresses: they must not
            # outlive the window they were counted in (docs/architecture.md §5).
            self.classifier.forget()
        for wc in closed:
            report = self._report(wc)
            self.summary.windows += 1
            self.summary.below_gate += wc.below_gate
            self.summary.rssi_missing += wc.rssi_missing
            if self._keep:
                self.summary.reports.append(report)
            self._sink(report)

    def _report(self, wc: WindowCounts) -> WindowReport:
        ident = self.identity
        health = Health(
            scanned_s=wc.scanned_s,
            adverts=wc.adverts,
            mode=ident.mode,
            adapter=ident.adapter,
            restarts=self._restarts_in_window,
            clock_synced=ident.clock_synced,
            rssi_min_dbm=self.counter.rssi_min_dbm,
            below_gate=wc.below_gate,
            malformed=wc.malformed,
            outbox_dropped=self._outbox_dropped(),
            crc_failed=wc.crc_failed,
            rssi_available=wc.rssi_missing == 0,
        )
        self._restarts_in_window = 0
        return WindowReport(
            node=ident.node,
            site=ident.site,
            seq=self._next_seq(),
            window_start=wc.window_start,
            window_s=wc.window_s,
            counts=wc.counts,
            slot_counts=wc.slot_counts,
            health=health,
            software=ident.software,
            headcount=self._headcount,
        )
