"""The PostgreSQL store (the only psycopg on the aggregator), for several aggregators at once.

Implements `WindowStore` (interface.py) with the SQLite store's semantics; the report SQL is
queries.py's, translated (pg_schema.dialect). A batch is one transaction: its windows are
COPYed into a temporary staging table and moved by one INSERT ... ON CONFLICT DO NOTHING that
also adds their sums to the rollup (bench/ingest.py measures this against one multi-row
INSERT from arrays). Row locks are taken in key order; a deadlock or serialization failure
between two aggregators is retried, a lost connection is re-opened on the next call.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

import psycopg
from psycopg import errors as pg_errors

from aggregator.store import delivery as dl
from aggregator.store import health, rows
from aggregator.store import pg_delivery as pgd
from aggregator.store import pg_schema as pg
from aggregator.store import queries as q
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
from scanner.estimation.params import EstimationParams
from scanner.wire.schema import WindowReport

log = logging.getLogger(__name__)

SCHEMA_VERSION = pg.MIGRATIONS[-1][0]
_RETRIES = 5
_TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
Write = Literal["copy", "unnest"]


class PgStore:
    """PostgreSQL store; one connection, used by one thread at a time."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        write: Write = "copy",
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.read_only = read_only  # the dashboard: every transaction READ ONLY, no migration
        self.where = pg.redact(url)
        self._clock = clock
        self._write = write
        self.duplicates = 0
        self._db: psycopg.Connection[tuple[Any, ...]] | None = None
        self._connect()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            db = psycopg.connect(self.url, connect_timeout=10)
        except psycopg.Error as exc:
            raise self._open_error(exc) from exc
        try:
            if self.read_only:
                db.read_only = True  # before the first statement opens a transaction
                self._check_schema(db)
            else:
                pgd.migrate(db, self.where, SCHEMA_VERSION)
                db.execute(pg.STAGING)
            db.commit()
        except BaseException as exc:
            db.close()
            if isinstance(exc, psycopg.Error):
                raise self._open_error(exc) from exc
            raise
        self._db = db
        return db

    def _check_schema(self, db: psycopg.Connection[tuple[Any, ...]]) -> None:
        try:
            found = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        except pg_errors.UndefinedTable:
            found = None
        version = None if found is None else found[0]
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.where}: store schema {version or 'none'}, expected {SCHEMA_VERSION}",
                where=self.where,
            )

    def _open_error(self, exc: psycopg.Error) -> StoreError:
        return StoreError(
            f"{self.where}: cannot open the store ({str(exc).strip()})",
            where=self.where, retryable=isinstance(exc, psycopg.OperationalError),
            cause=pgd.write_cause(exc),
        )  # fmt: skip

    def _conn(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._db is None or self._db.closed or self._db.broken:
            return self._connect()
        return self._db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        db = self._conn()
        with db.transaction():
            yield db

    def _retrying(self, job: Callable[[psycopg.Connection[tuple[Any, ...]]], Any]) -> Any:
        """Run `job` in one transaction; retry it after a deadlock or serialization failure
        (the transaction was rolled back whole), map every other failure to StoreError."""
        for attempt in range(_RETRIES):
            try:
                with self._tx() as db:
                    return job(db)
            except _TRANSIENT as exc:
                if attempt == _RETRIES - 1:
                    raise StoreError(
                        f"{self.where}: {exc}", where=self.where, retryable=True
                    ) from exc
                log.info("%s: %s; retrying the batch", self.where, type(exc).__name__)
                time.sleep(0.01 * (attempt + 1))
            except psycopg.Error as exc:
                retry = isinstance(exc, psycopg.OperationalError)
                raise StoreWriteError(f"{self.where}: {exc}", where=self.where, retryable=retry,
                                      cause=pgd.write_cause(exc)) from exc  # fmt: skip
        raise AssertionError("unreachable")

    # -- writing ---------------------------------------------------------------------------------

    def insert(self, report: WindowReport) -> bool:
        return self.add_windows([report]).stored == 1

    def add_windows(
        self,
        reports: Sequence[WindowReport],
        rejects: Sequence[Reject] = (),
        statuses: Sequence[Status] = (),
        payloads: Sequence[str] | None = None,
    ) -> AddResult:
        """One transaction for a whole batch: windows (and rollup), rejects, statuses, nodes."""
        now = self._clock()
        flat = [
            rows.window_row(r, now, None if payloads is None else payloads[i])
            for i, r in enumerate(reports)
        ]

        # A key twice in one batch: the first is the one stored, as on SQLite; the later ones
        # are redeliveries or conflicts, judged against it.
        first = pgd.first_of_each_key(reports)

        def job(db: psycopg.Connection[tuple[Any, ...]]) -> list[WindowReport]:
            fresh_keys = self._insert_windows(db, [flat[i] for i in first])
            is_fresh = [i in first and (r.node, r.window_start) in fresh_keys
                        for i, r in enumerate(reports)]  # fmt: skip
            fresh = [r for r, f in zip(reports, is_fresh, strict=True) if f]
            with db.cursor() as cur:
                conflicts[:] = pgd.conflicts(cur, reports, flat, is_fresh, now)
                every = [*rejects, *conflicts]
                if every:
                    cur.executemany(pg.REJECT_INSERT, [dl.rejected_row(x) for x in every])
                acks.update(pgd.bookkeep(cur, reports, fresh, every, statuses, now))
            return fresh

        # In the batch's transaction, from the shared store: whichever aggregator of a share
        # group took this batch acks what all of them committed.
        acks: dict[str, tuple[str, int]] = {}
        conflicts: list[Reject] = []
        fresh: list[WindowReport] = self._retrying(job)
        dups = len(reports) - len(fresh) - len(conflicts)
        self.duplicates += dups
        return AddResult(len(fresh), dups, conflicts=len(conflicts), acks=acks)

    def _insert_windows(
        self, db: psycopg.Connection[tuple[Any, ...]], flat: list[tuple[Any, ...]]
    ) -> set[tuple[str, int]]:
        if not flat:
            return set()
        with db.cursor() as cur:
            if self._write == "copy":
                with cur.copy(f"COPY staging ({pg.COLUMNS}) FROM STDIN") as copy:
                    for row in flat:
                        copy.write_row(row)
                cur.execute(pg.INSERT_WITH_ROLLUP.format(source="SELECT * FROM staging"), ())
                keys = {(n, int(w)) for n, w in cur.fetchall()}
                return keys
            columns = [list(c) for c in zip(*flat, strict=True)]
            cur.execute(pg.INSERT_WITH_ROLLUP.format(source=pg.UNNEST_SOURCE), columns)
            return {(n, int(w)) for n, w in cur.fetchall()}

    def bulk_insert_rows(self, flat: Iterable[Sequence[Any]], *, batch: int = 50_000) -> None:
        """Flat rows in `windows` column order, one transaction per batch; no node bookkeeping,
        duplicates ignored, the rollup kept as for any insert (benchmarks and bulk loads)."""
        for chunk in rows.iter_batches(flat, batch):
            self._retrying(functools.partial(self._insert_windows, flat=[tuple(r) for r in chunk]))

    def add_rejects(self, rejects: Sequence[Reject]) -> None:
        self.add_windows([], rejects)

    def set_status(self, site: str, node: str, status: str) -> None:
        self.add_windows([], statuses=[(site, node, status, self._clock())])

    # -- reading ---------------------------------------------------------------------------------

    def _read(self, sql: str, binds: Any = None) -> list[tuple[Any, ...]]:
        def job(db: psycopg.Connection[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return db.execute(pg.dialect(sql), binds if binds is not None else {}).fetchall()

        result: list[tuple[Any, ...]] = self._retrying(job)
        return result

    def clusters(
        self,
        params: EstimationParams,
        *,
        since: int,
        until: int,
        sites: list[str] | None = None,
        by_hour: bool = False,
    ) -> list[ClusterHour]:
        if q.rollup_usable(params):
            sql, binds = q.rollup_cluster_query(
                params, since=since, until=until, sites=sites, by_hour=by_hour
            )
        else:
            sql, binds = q.cluster_query(
                params, since=since, until=until, sites=sites, by_hour=by_hour, dialect="postgres"
            )
        return rows.cluster_hours(self._read(sql, binds))

    def node_health(
        self, params: EstimationParams, *, since: int, until: int, sites: list[str] | None = None
    ) -> list[NodeHealth]:
        nq = q.rollup_nodes_query if q.rollup_usable(params) else q.nodes_query
        sql, binds = nq(params, since=since, until=until, sites=sites)
        return [rows.node_health(r) for r in self._read(sql, binds)]

    def site_counts(self) -> list[tuple[str, int]]:
        return [(s, int(n)) for s, n in self._read(q.ROLLUP_SITES_SEEN_SQL)]

    def nodes(self) -> list[NodeState]:
        return [rows.node_state(r) for r in self._read(rows.NODE_STATE_SQL)]

    def rejects(self) -> list[RejectRow]:
        return rows.reject_rows(self._read(rows.REJECT_ROWS_SQL))

    def reject_counts(self) -> list[RejectCount]:
        return health.reject_counts(self._read(health.REJECT_COUNTS_SQL))

    def node_clocks(self) -> list[NodeClock]:
        return health.node_clocks(self._read(health.NODE_CLOCKS_SQL))

    def data_version(self) -> str:
        # The snapshot (xmin:xmax:in-progress) moves whenever any transaction of the server
        # is assigned an id or ends, so it differs after every commit (and sometimes without).
        return str(self._read("SELECT CAST(pg_current_snapshot() AS TEXT)")[0][0])

    def windows(self, node: str | None = None) -> list[StoredWindow]:
        where, binds = ("WHERE node = :node", {"node": node}) if node is not None else ("", {})
        sql = f"SELECT {pg.COLUMNS} FROM windows {where} ORDER BY node, window_start"
        return [rows.stored_window(r) for r in self._read(sql, binds)]

    def windows_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM windows")[0][0])

    def highest_contiguous_seq(self, node: str) -> int | None:
        value = self._read(rows.CONTIGUOUS_SQL, {"node": node})[0][0]
        return None if value is None else int(value)

    def node_delivery_rows(self) -> list[Any]:
        return self._read(dl.NODE_DELIVERY_SQL)

    def check_writable(self) -> None:
        self._retrying(lambda db: db.execute(pgd.WRITE_PROBE))

    def reopen(self) -> None:
        self.close()
        self._connect()

    def checkpoint(self) -> None:
        """PostgreSQL manages its own WAL."""

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
