"""The SQLite store (the only sqlite3 on the aggregator): windows, rejects, nodes, rollup.

Implements `WindowStore` (interface.py); `(node, window_start)` is the idempotency key
(docs/architecture.md §6): a redelivered window is a no-op that is only counted.

WAL with `synchronous=NORMAL`: a batch is committed before any of its messages is acknowledged,
and in WAL mode a committed transaction survives the process being killed (the crash the
ack-after-commit rule is about). Only an OS crash or power cut can roll back the last commits;
servers where that matters pass `synchronous="FULL"` (one fsync per batch, still batched).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from aggregator.store import health, rows
from aggregator.store import queries as q
from aggregator.store import sqlite_schema as lite
from aggregator.store.interface import (
    AddResult,
    ClusterHour,
    NodeClock,
    NodeHealth,
    NodeState,
    Reject,
    RejectCount,
    RejectRow,
    Status,
    StoredWindow,
    StoreError,
)
from aggregator.store.nodes import node_updates
from scanner.estimation.params import EstimationParams
from scanner.wire.schema import WindowReport

log = logging.getLogger(__name__)

SCHEMA_VERSION = lite.SCHEMA_VERSION
STATUS_UPSERT = lite.STATUS_UPSERT
_COLUMNS, _INSERT = lite.COLUMNS, lite.INSERT
_NODES_UPSERT, _REJECT_INSERT = lite.NODES_UPSERT, lite.REJECT_INSERT


class Store:
    """SQLite store; one connection, used by one thread at a time."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        synchronous: str = "NORMAL",
        rollup: bool = True,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self.duplicates = 0
        self.read_only = read_only
        if read_only:
            self._db = self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The subscriber commits batches in a worker thread, one after the other.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise StoreError(
                    f"{self.path}: store schema {version}, expected {SCHEMA_VERSION}",
                    where=str(self.path),
                )
            if version == 0:
                with self._tx():
                    for stmt in lite.DDL:
                        self._db.execute(stmt)
                    if rollup:
                        # Reports read the trigger-maintained rollup when present (queries.py).
                        for stmt in q.ROLLUP_STATEMENTS:
                            self._db.execute(stmt)
                        self._db.execute(q.ROLLUP_BACKFILL)
                    self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._rollup = bool(self._one(q.ROLLUP_EXISTS_SQL))
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: cannot open the store ({exc})", where=str(self.path)
            ) from exc

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only", where=str(self.path))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _one(self, sql: str, params: Any = ()) -> Any:
        return self._db.execute(sql, params).fetchone()[0]

    def _open_read_only(self) -> sqlite3.Connection:
        # mode=ro: this connection can never write, whatever SQL it is given (the dashboard);
        # it still reads through the WAL of a running `bzagg serve`.
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no store there (run `bzagg serve` or pass --db)",
                             where=str(self.path))  # fmt: skip
        try:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                check_same_thread=False,
            )  # fmt: skip
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store ({exc})",
                             where=str(self.path)) from exc  # fmt: skip
        if version != SCHEMA_VERSION:
            db.close()
            raise StoreError(f"{self.path}: store schema {version}, expected {SCHEMA_VERSION}",
                             where=str(self.path))  # fmt: skip
        self._rollup = bool(db.execute(q.ROLLUP_EXISTS_SQL).fetchone()[0])
        return db

    # -- writing ---------------------------------------------------------------------------------

    def insert(self, report: WindowReport) -> bool:
        """Store one window; False when (node, window_start) was already there."""
        return self.add_windows([report]).stored == 1

    def add_windows(
        self,
        reports: Sequence[WindowReport],
        rejects: Sequence[Reject] = (),
        statuses: Sequence[Status] = (),
        payloads: Sequence[str] | None = None,
    ) -> AddResult:
        """One transaction for a whole batch: windows, rejects, status changes; then nodes.

        `payloads`, when given, are the received payload texts (canonical JSON, with any `sig`)
        stored as they came; otherwise the canonical JSON is rebuilt from each report.
        """
        now = self._clock()
        flat = [
            rows.window_row(r, now, None if payloads is None else payloads[i])
            for i, r in enumerate(reports)
        ]
        with self._tx() as db:
            db.execute("SAVEPOINT batch")
            # rowcount sums sqlite3_changes(), which leaves out the rollup triggers' rows.
            if db.executemany(_INSERT, flat).rowcount == len(flat):
                fresh = list(reports)  # the usual case: no redelivery in this batch
            else:
                # Some were already there: redo row by row to know which (rare).
                db.execute("ROLLBACK TO batch")
                fresh = [
                    r
                    for r, row in zip(reports, flat, strict=True)
                    if db.execute(_INSERT, row).rowcount == 1
                ]
            db.execute("RELEASE batch")
            if rejects:
                db.executemany(_REJECT_INSERT, [rows.reject_row(x) for x in rejects])
            if reports:
                known = self._known_nodes({r.node for r in reports})
                db.executemany(_NODES_UPSERT, node_updates(fresh, reports, known, now))
            db.executemany(STATUS_UPSERT, [(n, site, st, at) for site, n, st, at in statuses])
        dups = len(reports) - len(fresh)
        self.duplicates += dups
        return AddResult(stored=len(fresh), duplicates=dups)

    def _known_nodes(self, nodes: set[str]) -> dict[str, tuple[int | None, int]]:
        if len(nodes) > 50:
            everything = self._db.execute("SELECT node, last_seq, seq_gaps FROM nodes")
            return {n: (last, gaps) for n, last, gaps in everything if n in nodes}
        return {
            n: (last, gaps)
            for n in nodes
            for last, gaps in self._db.execute(
                "SELECT last_seq, seq_gaps FROM nodes WHERE node = ?", (n,)
            )
        }

    def bulk_insert_rows(self, flat: Iterable[Sequence[Any]], *, batch: int = 50_000) -> None:
        """executemany of flat rows in `windows` column order (see `rows.window_row`), one
        transaction per batch; for benchmarks and bulk loads: no node bookkeeping, duplicates
        ignored, the rollup triggers run as for any insert."""
        for chunk in rows.iter_batches(flat, batch):
            with self._tx() as db:
                db.executemany(_INSERT, chunk)

    def add_rejects(self, rejects: Sequence[Reject]) -> None:
        self.add_windows([], rejects)

    def set_status(self, site: str, node: str, status: str) -> None:
        self.add_windows([], statuses=[(site, node, status, self._clock())])

    # -- reading ---------------------------------------------------------------------------------

    def clusters(
        self,
        params: EstimationParams,
        *,
        since: int,
        until: int,
        sites: list[str] | None = None,
        by_hour: bool = False,
    ) -> list[ClusterHour]:
        """Cluster sums for the estimators; from the rollup when it can answer exactly."""
        cq = q.rollup_cluster_query if self._use_rollup(params) else q.cluster_query
        sql, binds = cq(params, since=since, until=until, sites=sites, by_hour=by_hour)
        return rows.cluster_hours(self._db.execute(sql, binds))

    def node_health(
        self, params: EstimationParams, *, since: int, until: int, sites: list[str] | None = None
    ) -> list[NodeHealth]:
        nq = q.rollup_nodes_query if self._use_rollup(params) else q.nodes_query
        sql, binds = nq(params, since=since, until=until, sites=sites)
        return [rows.node_health(r) for r in self._db.execute(sql, binds)]

    def _use_rollup(self, params: EstimationParams) -> bool:
        return self._rollup and q.rollup_usable(params)

    @property
    def has_rollup(self) -> bool:
        """Whether the trigger-maintained rollup exists (stores made with rollup=False lack it)."""
        return self._rollup

    def site_counts(self) -> list[tuple[str, int]]:
        """Every site with windows stored, and how many."""
        sql = q.ROLLUP_SITES_SEEN_SQL if self._rollup else q.SITES_SEEN_SQL
        return [(s, int(n)) for s, n in self._db.execute(sql)]

    def nodes(self) -> list[NodeState]:
        return [rows.node_state(r) for r in self._db.execute(rows.NODE_STATE_SQL)]

    def rejects(self) -> list[RejectRow]:
        return rows.reject_rows(self._db.execute(rows.REJECT_ROWS_SQL))

    def reject_counts(self) -> list[RejectCount]:
        return health.reject_counts(self._db.execute(health.REJECT_COUNTS_SQL))

    def node_clocks(self) -> list[NodeClock]:
        return health.node_clocks(self._db.execute(health.NODE_CLOCKS_SQL))

    def data_version(self) -> str:
        # Differs between two reads on this connection iff another connection committed.
        return str(self._one("PRAGMA data_version"))

    def windows(self, node: str | None = None) -> list[StoredWindow]:
        """Stored windows in key order (tests and exports; reports read `clusters`)."""
        where, binds = ("WHERE node = ?", (node,)) if node is not None else ("", ())
        sql = f"SELECT {_COLUMNS} FROM windows {where} ORDER BY node, window_start"
        return [rows.stored_window(r) for r in self._db.execute(sql, binds)]

    def windows_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM windows"))

    def highest_contiguous_seq(self, node: str) -> int | None:
        """The highest seq h such that the node's windows 0..h are all stored (None: not 0)."""
        value = self._one(rows.CONTIGUOUS_SQL, {"node": node})
        return None if value is None else int(value)

    def close(self) -> None:
        self._db.close()


def read_outbox(path: Path) -> Iterator[tuple[str, bytes]]:
    """(topic, payload) of every window a node outbox still holds, sent or not, opened read-only
    (for `bzagg ingest` of an outbox carried back from an offline visit)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        cur = db.execute("SELECT topic, payload FROM outbox ORDER BY seq")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: not a usable outbox ({exc})", where=str(path)) from exc
    try:
        for topic, payload in cur:
            yield str(topic), bytes(payload)
    finally:
        db.close()
