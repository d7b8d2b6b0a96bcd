"""The store interface every backend implements (SQLite today, PostgreSQL for scale-out).

Callers (the subscriber, `bzagg ingest`/`nodes`/`sites`, reports, the demo) see only this
Protocol and its frozen rows; all SQL lives in the backends (docs/architecture.md §6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aggregator.errors import AggregatorError
from scanner.estimation.estimate import ClusterTotals
from scanner.estimation.params import EstimationParams
from scanner.wire.schema import WindowReport

# (site, node, "online" | "offline", time the aggregator received it)
Status = tuple[str, str, str, float]


class StoreError(AggregatorError):
    """The store cannot be opened, has a schema this version does not know, or a write failed.

    `where` names the file or database; `retryable` is True for a transient failure (a lost
    connection, a deadlock) after which the same batch can simply be tried again; `cause` is
    what the filesystem or server said (`read-only`, `disk full`, ...) when that is the reason.
    """

    def __init__(
        self, message: str, *, where: str = "", retryable: bool = False, cause: str | None = None
    ) -> None:
        super().__init__(message)
        self.where = where
        self.retryable = retryable
        self.cause = cause


class StoreWriteError(StoreError):
    """A write failed; nothing of the batch is committed. `cause` names the real reason."""


@dataclass(frozen=True, slots=True)
class Reject:
    topic: str
    reason: str
    detail: str
    payload: bytes
    received_at: float
    stored_head: str | None = None  # a conflict keeps the first bytes of both sides


@dataclass(frozen=True, slots=True)
class AddResult:
    stored: int
    duplicates: int
    conflicts: int = 0
    # node -> (site, highest contiguous seq committed) for every node the batch touched.
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)


# node, acked seq, conflicts, clock skew s, received_at of the oldest window above the ack.
DeliveryRow = tuple[str, int | None, int, float | None, float | None]


@dataclass(frozen=True, slots=True)
class ClusterHour:
    """One cluster's sums (site x node x UTC day) and its UTC hour (0 unless asked by hour)."""

    totals: ClusterTotals
    hour: int


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """Per node over a report's period: coverage and exclusions (coverage chart, nodes sheet)."""

    node: str
    site: str
    windows: int
    excl_clock: int
    excl_coverage: int
    scanned_share: float | None
    restarts: int
    first_start: int
    last_end: int
    mode: str | None


@dataclass(frozen=True, slots=True)
class NodeState:
    """The nodes table as `bzagg nodes` prints it; `rejected` counts rejects on its topics."""

    node: str
    site: str
    first_seen: float | None
    last_seen: float | None
    status: str
    status_at: float | None
    last_seq: int | None
    windows: int
    seq_gaps: int
    duplicates: int
    rejected: int


@dataclass(frozen=True, slots=True)
class RejectRow:
    id: int
    received_at: float
    topic: str
    reason: str
    detail: str
    payload_head: str


@dataclass(frozen=True, slots=True)
class RejectCount:
    """Rejected payloads of one (topic, reason): how many and when the last one came."""

    topic: str
    reason: str
    count: int
    last_at: float


@dataclass(frozen=True, slots=True)
class NodeClock:
    """A node's latest stored window: its clock flag (None: not reported) and its end."""

    node: str
    clock_synced: bool | None
    last_end: int | None


@dataclass(frozen=True, slots=True)
class StoredWindow:
    """One stored window, column for column (`payload` is the received canonical JSON)."""

    node: str
    site: str
    window_start: int
    window_s: int
    seq: int
    received_at: float
    bz_android: int
    bz_ios_fg: int
    bz_ios_bg: int
    bz_slot_android: int
    iphone: int
    phone: int
    other: int
    headcount: int | None
    scanned_s: float
    adverts: int
    clock_synced: int | None
    mode: str
    restarts: int
    below_gate: int
    payload: str


class WindowStore(Protocol):
    """What the aggregator needs from a store. `(node, window_start)` is the idempotency key:
    a redelivered window is a counted no-op. One batch is one transaction."""

    duplicates: int

    def add_windows(
        self,
        reports: Sequence[WindowReport],
        rejects: Sequence[Reject] = (),
        statuses: Sequence[Status] = (),
        payloads: Sequence[str] | None = None,
    ) -> AddResult: ...

    def insert(self, report: WindowReport) -> bool: ...

    def add_rejects(self, rejects: Sequence[Reject]) -> None: ...

    def set_status(self, site: str, node: str, status: str) -> None: ...

    def bulk_insert_rows(self, rows: Iterable[Sequence[Any]], *, batch: int = 50_000) -> None: ...

    def clusters(
        self,
        params: EstimationParams,
        *,
        since: int,
        until: int,
        sites: list[str] | None = None,
        by_hour: bool = False,
    ) -> list[ClusterHour]: ...

    def node_health(
        self, params: EstimationParams, *, since: int, until: int, sites: list[str] | None = None
    ) -> list[NodeHealth]: ...

    def site_counts(self) -> list[tuple[str, int]]: ...

    def nodes(self) -> list[NodeState]: ...

    def rejects(self) -> list[RejectRow]: ...

    def reject_counts(self) -> list[RejectCount]: ...

    def node_clocks(self) -> list[NodeClock]: ...

    def data_version(self) -> str:
        """An opaque token that differs once another connection has committed a change (it may
        also change without one); a reader polls it instead of re-reading the data."""
        ...

    def windows(self, node: str | None = None) -> list[StoredWindow]: ...

    def windows_count(self) -> int: ...

    def highest_contiguous_seq(self, node: str) -> int | None:
        """The node's ack: the highest seq h with every seq 0..h committed, as a stored window
        or as a rejection naming that seq; None while seq 0 is not."""
        ...

    def node_delivery_rows(self) -> list[DeliveryRow]: ...

    def check_writable(self) -> None:
        """Raise StoreWriteError unless a write would succeed now (nothing is changed)."""
        ...

    def reopen(self) -> None: ...

    def checkpoint(self) -> None:
        """Give back space the store holds for itself (SQLite's WAL); a no-op elsewhere."""
        ...

    def close(self) -> None: ...
