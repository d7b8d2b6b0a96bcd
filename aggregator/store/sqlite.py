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
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from aggregator.store import delivery as dl
from aggregator.store import health, rows
from aggregator.store import queries as q
from aggregator.store import sqlite_schema as sch
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
    StoreWriteError,
)
from aggregator.store.nodes import node_updates
from aggregator.store.sqlite_read import open_read_only
from scanner.estimation.params import EstimationParams
from scanner.wire.schema import WindowReport

_COLUMNS, _INSERT = sch.COLUMNS, sch.INSERT


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
        cache_mb: int = dl.DEFAULT_CACHE_MB,
    ) -> None:
        self.path, self._cache_kib = Path(path), cache_mb * 1024
        self._clock = clock
        self._synchronous = synchronous
        self._want_rollup = rollup
        self.duplicates = 0
        self.read_only = read_only
        if read_only:
            self._db, self._rollup = open_read_only(self.path, sch.SCHEMA_VERSION)
        else:
            self._open()

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # The subscriber commits batches in a worker thread, one after the other.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={self._synchronous}")
            for pragma in (*dl.WAL_PRAGMAS, f"PRAGMA cache_size=-{self._cache_kib}"):
                self._db.execute(pragma)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, 2, sch.SCHEMA_VERSION):
                raise StoreError(f"{self.path}: store schema {version}, expected "
                                 f"{sch.SCHEMA_VERSION}", where=str(self.path))  # fmt: skip
            if version < sch.SCHEMA_VERSION:
                with self._tx():
                    if version == 0:
                        self._create()
                    for stmt in sch.migrations(version, bool(self._one(q.ROLLUP_EXISTS_SQL))):
                        self._db.execute(stmt)
                    if version == 1:
                        dl.advance_acks(
                            self._db, [n for (n,) in self._db.execute("SELECT node FROM nodes")]
                        )
                    self._db.execute(f"PRAGMA user_version={sch.SCHEMA_VERSION}")
            self._rollup = bool(self._one(q.ROLLUP_EXISTS_SQL))
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: cannot open the store ({exc})",
                where=str(self.path),
                cause=dl.write_cause(exc),
            ) from exc

    def _create(self) -> None:
        for stmt in sch.DDL:
            self._db.execute(stmt)
        if self._want_rollup:
            # Reports read the trigger-maintained rollup when present (queries.py).
            for stmt in q.ROLLUP_STATEMENTS:
                self._db.execute(stmt)
            self._db.execute(q.ROLLUP_BACKFILL)

    def check_writable(self) -> None:
        """Raise StoreWriteError unless a write would succeed now (nothing is changed)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            # Rewriting the header is a real write: a read-only file refuses it.
            self._db.execute(f"PRAGMA user_version = {sch.SCHEMA_VERSION}")
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._write_error(exc) from exc

    def _write_error(self, exc: sqlite3.Error) -> StoreWriteError:
        return StoreWriteError(
            f"{self.path}: {exc}", where=str(self.path), cause=dl.write_cause(exc)
        )

    def reopen(self) -> None:
        """Open the file again: SQLite keeps a connection read-only once it opened it so."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._open()

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it: frees its space on a full disk."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only", where=str(self.path))
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db
            self._db.execute("COMMIT")
        except BaseException as exc:
            # SQLite may have rolled back already (disk full): a second ROLLBACK would raise
            # "no transaction is active" and hide the real cause.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._write_error(exc) from exc
            raise

    def _one(self, sql: str, params: Any = ()) -> Any:
        return self._db.execute(sql, params).fetchone()[0]

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
                fresh, again = list(reports), list[int]()  # the usual case: no redelivery
            else:
                # Some were already there: redo row by row to know which (rare).
                db.execute("ROLLBACK TO batch")
                fresh, again = [], []
                for i, (r, row) in enumerate(zip(reports, flat, strict=True)):
                    if db.execute(_INSERT, row).rowcount == 1:
                        fresh.append(r)
                    else:
                        again.append(i)
            db.execute("RELEASE batch")
            texts = [row[-1] for row in flat]
            conflicts = dl.conflict_rejects(
                db, [reports[i] for i in again], [texts[i] for i in again], now
            )
            every = [*rejects, *conflicts]
            if every:
                db.executemany(sch.REJECT_INSERT, [dl.rejected_row(x) for x in every])
            if reports:
                known = dl.known_nodes(db, {r.node for r in reports})
                db.executemany(sch.NODES_UPSERT, node_updates(fresh, reports, known, now))
                dl.record_skew(db, fresh, now)
            db.executemany(sch.STATUS_UPSERT, [(n, site, st, at) for site, n, st, at in statuses])
            acks = dl.commit_acks(db, reports, [(x.topic, x.payload) for x in every])
        dups = len(reports) - len(fresh) - len(conflicts)
        self.duplicates += dups
        return AddResult(len(fresh), dups, conflicts=len(conflicts), acks=acks)

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
        """The node's ack (interface.py): kept in nodes.acked_seq as each batch commits."""
        row = self._db.execute("SELECT acked_seq FROM nodes WHERE node = ?", (node,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def node_delivery_rows(self) -> list[Any]:
        return [tuple(r) for r in self._db.execute(dl.NODE_DELIVERY_SQL)]

    def close(self) -> None:
        self._db.close()
