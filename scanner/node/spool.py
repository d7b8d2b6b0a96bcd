"""Windows the outbox cannot take right now (disk full, read-only, I/O error) wait in memory.

The node keeps counting when its SD card fills up or turns read-only: closed windows are held in
a bounded queue, in order, and written (getting their seq then) as soon as the filesystem takes
them again. The fault is logged once when it starts and once when it ends, with a counter.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scanner.node.outbox import Outbox, OutboxWriteError
from scanner.wire.schema import WindowReport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpoolHealth:
    """The outbox's write state for health lines (numbers and a cause, nothing else)."""

    fault: str | None  # `full`, `readonly`, `io`, or None when writing works
    held: int
    dropped: int
    failures: int


class Spool:
    """Opens the outbox (retrying while the filesystem refuses) and feeds it windows in order."""

    def __init__(self, opener: Callable[[], Outbox], path: Path, *, max_held: int = 10_000) -> None:
        self._opener = opener
        self.path = path
        self._held: deque[WindowReport] = deque()
        self._max_held = max(1, max_held)
        self.fault: str | None = None
        self.failures = 0
        self.dropped = 0
        self.outbox: Outbox | None = None
        self._try_open()

    def health(self) -> SpoolHealth:
        return SpoolHealth(self.fault, len(self._held), self.dropped, self.failures)

    def put(self, report: WindowReport) -> bool:
        """Hold `report` behind anything already waiting, then write what the disk takes.

        True when everything held is in the outbox now.
        """
        if len(self._held) >= self._max_held and not self.flush():
            # Bounded: the oldest held window goes, and is counted; never the process.
            self._held.popleft()
            self.dropped += 1
        self._held.append(report)
        return self.flush()

    def flush(self) -> bool:
        if self.outbox is None and not self._try_open():
            return False
        assert self.outbox is not None
        while self._held:
            try:
                self.outbox.put(self._held[0])
            except OutboxWriteError as exc:
                self._failed(exc)
                return False
            self._held.popleft()
        self._recovered()
        return True

    def _try_open(self) -> bool:
        try:
            self.outbox = self._opener()
        except OutboxWriteError as exc:
            self._failed(exc)
            return False
        self._recovered()
        return True

    def _failed(self, exc: OutboxWriteError) -> None:
        self.failures += 1
        if exc.cause != self.fault:
            log.error(
                "outbox %s cannot be written (%s): holding %d window(s) in memory (at most %d) "
                "and counting on; free space or remount read-write and they are written",
                self.path, exc, len(self._held), self._max_held,
            )  # fmt: skip
        self.fault = exc.cause

    def _recovered(self) -> None:
        if self.fault is not None:
            log.warning(
                "outbox %s writable again after %d failed write(s); %d window(s) dropped from "
                "memory meanwhile", self.path, self.failures, self.dropped,
            )  # fmt: skip
        self.fault = None
