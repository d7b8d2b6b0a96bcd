"""The aggregator's store (the only sqlite3 on the aggregator): windows, rejects, nodes.

One small interface: `add_windows` / `add_rejects` / `set_status` for the subscriber, `insert` for
single reports, `query`/`iter_query` for reports. `(node, window_start)` is the idempotency key
(docs/architecture.md §6): a redelivered window is a no-op that is only counted.

WAL with `synchronous=NORMAL`: a batch is committed before any of its messages is acknowledged,
and in WAL mode a committed transaction survives the process being killed (the crash the
ack-after-commit rule is about). Only an OS crash or power cut can roll back the last commits;
servers where that matters pass `synchronous="FULL"` (one fsync per batch, still batched).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.store.delivery import (
    MIGRATE_2,
    NODE_DELIVERY_SQL,
    WAL_PRAGMAS,
    advance_acks,
    commit_acks,
    find_conflicts,
    record_skew,
    write_cause,
)
from aggregator.store.queries import ROLLUP_BACKFILL, ROLLUP_STATEMENTS
from scanner.wire.codec import to_dict
from scanner.wire.schema import WindowReport
from scanner.wire.topics import window_topic

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_DDL = (
    """CREATE TABLE IF NOT EXISTS windows (
  node TEXT NOT NULL, site TEXT NOT NULL, window_start INTEGER NOT NULL,
  window_s INTEGER NOT NULL, seq INTEGER NOT NULL, received_at REAL NOT NULL,
  bz_android INTEGER NOT NULL, bz_ios_fg INTEGER NOT NULL, bz_ios_bg INTEGER NOT NULL,
  bz_slot_android INTEGER NOT NULL, iphone INTEGER NOT NULL, phone INTEGER NOT NULL,
  other INTEGER NOT NULL, headcount INTEGER, scanned_s REAL NOT NULL, adverts INTEGER NOT NULL,
  clock_synced INTEGER, mode TEXT NOT NULL, restarts INTEGER NOT NULL,
  below_gate INTEGER NOT NULL, payload TEXT NOT NULL,
  PRIMARY KEY (node, window_start)
) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS windows_site_start ON windows (site, window_start)",
    "CREATE INDEX IF NOT EXISTS windows_start ON windows (window_start)",
    """CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY, received_at REAL NOT NULL, topic TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, payload_head TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS nodes (
  node TEXT PRIMARY KEY, site TEXT NOT NULL, first_seen REAL, last_seen REAL,
  status TEXT NOT NULL DEFAULT 'unknown', status_at REAL, last_seq INTEGER,
  windows INTEGER NOT NULL DEFAULT 0, seq_gaps INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0)""",
)
_COLUMNS = (
    "node, site, window_start, window_s, seq, received_at, bz_android, bz_ios_fg, bz_ios_bg, "
    "bz_slot_android, iphone, phone, other, headcount, scanned_s, adverts, clock_synced, mode, "
    "restarts, below_gate, payload"
)
_INSERT = f"INSERT OR IGNORE INTO windows ({_COLUMNS}) VALUES ({', '.join('?' * 21)})"
_HEAD_BYTES = 256


class StoreError(Exception):
    """The store file cannot be opened or has a schema this version does not know.

    `cause` is what the filesystem said (`read-only`, `disk full`, ...) when that is the reason.
    """

    def __init__(self, message: str, cause: str | None = None) -> None:
        self.cause = cause
        super().__init__(message)


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
class BatchResult:
    stored: int
    duplicates: int
    conflicts: int = 0
    # node -> (site, highest contiguous seq committed) for every node the batch touched.
    acks: dict[str, tuple[str, int]] = field(default_factory=dict)


def payload_head(payload: bytes) -> str:
    """The first bytes of a rejected payload: text when it decodes, else hex (with a marker)."""
    head = payload[:_HEAD_BYTES]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + head.hex()
    return text if text.isprintable() else "hex:" + head.hex()


def window_row(
    report: WindowReport, received_at: float, payload: str | None = None
) -> tuple[Any, ...]:
    h = report.health
    bz = report.counts.get("bluezone", {})
    return (
        report.node, report.site, report.window_start, report.window_s, report.seq, received_at,
        bz.get("android", 0), bz.get("ios_fg", 0), bz.get("ios_bg", 0),
        report.slot_counts.get("bluezone", {}).get("android", 0),
        report.count("iphone"), report.count("phone"), report.count("other"),
        report.headcount, float(h.scanned_s), h.adverts,
        None if h.clock_synced is None else int(h.clock_synced), h.mode, h.restarts,
        h.below_gate,
        payload if payload is not None else json.dumps(
            to_dict(report), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
    )  # fmt: skip


class Store:
    """SQLite store; one connection, used from one thread (the event loop's)."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        synchronous: str = "NORMAL",
        rollup: bool = True,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._synchronous = synchronous
        self._rollup = rollup
        self.duplicates = 0
        self._open()

    def _open(self) -> None:
        synchronous, rollup = self._synchronous, self._rollup
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection, used by one thread at a time (the subscriber commits batches in a
            # worker thread, one after the other).
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            for pragma in WAL_PRAGMAS:
                self._db.execute(pragma)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                raise StoreError(f"{self.path}: store schema {version}, expected {SCHEMA_VERSION}")
            if version in (0, 1):
                self._db.execute("BEGIN IMMEDIATE")
                if version == 0:
                    for stmt in _DDL:
                        self._db.execute(stmt)
                    if rollup:
                        # Reports read the trigger-maintained rollup when present (queries.py).
                        for stmt in ROLLUP_STATEMENTS:
                            self._db.execute(stmt)
                        self._db.execute(ROLLUP_BACKFILL)
                for stmt in MIGRATE_2:
                    self._db.execute(stmt)
                if version == 1:
                    advance_acks(
                        self._db, [r[0] for r in self._db.execute("SELECT node FROM nodes")]
                    )
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: cannot open the store ({exc})", write_cause(exc)
            ) from exc

    def check_writable(self) -> None:
        """Raise StoreWriteError unless a write would succeed now (nothing is changed)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            # Rewriting the header is a real write: a read-only file refuses it.
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreWriteError(f"{self.path}: {exc}", write_cause(exc)) from exc

    def reopen(self) -> None:
        """Open the file again: SQLite keeps a connection read-only once it opened it so."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._open()

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it: frees its space on a full disk."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def highest_contiguous_seq(self, node: str) -> int | None:
        """The node's ack: highest seq s with every seq 0..s committed (stored or rejected)."""
        row = self._db.execute("SELECT acked_seq FROM nodes WHERE node = ?", (node,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def node_delivery_rows(self) -> list[tuple[Any, ...]]:
        """node, acked_seq, conflicts, skew_s, received_at of the oldest window above the ack."""
        return self.query(NODE_DELIVERY_SQL)

    # -- writing ---------------------------------------------------------------------------------

    def insert(self, report: WindowReport) -> bool:
        """Store one window; False when (node, window_start) was already there."""
        return self.add_windows([report]).stored == 1

    def add_windows(
        self,
        reports: Sequence[WindowReport],
        rejects: Sequence[Reject] = (),
        statuses: Sequence[tuple[str, str, str, float]] = (),
        payloads: Sequence[str] | None = None,
    ) -> BatchResult:
        """One transaction for a whole batch: windows, rejects, status changes; then nodes.

        `payloads`, when given, are the received payload texts (canonical JSON, with any `sig`)
        stored as they came; otherwise the canonical JSON is rebuilt from each report.
        """
        now = self._clock()
        rows = [
            window_row(r, now, None if payloads is None else payloads[i])
            for i, r in enumerate(reports)
        ]
        texts = [row[-1] for row in rows]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("SAVEPOINT batch")
            # rowcount sums sqlite3_changes(), which leaves out the rollup triggers' rows.
            if self._db.executemany(_INSERT, rows).rowcount == len(rows):
                fresh = list(reports)  # the usual case: no redelivery in this batch
                again: list[int] = []
            else:
                # Some were already there: redo row by row to know which (rare).
                self._db.execute("ROLLBACK TO batch")
                fresh, again = [], []
                for i, (r, row) in enumerate(zip(reports, rows, strict=True)):
                    if self._db.execute(_INSERT, row).rowcount == 1:
                        fresh.append(r)
                    else:
                        again.append(i)
            self._db.execute("RELEASE batch")
            conflicts = self._conflicts([reports[i] for i in again], [texts[i] for i in again], now)
            dups = len(reports) - len(fresh) - len(conflicts)
            self._add_rejects([*rejects, *conflicts])
            self._update_nodes(fresh, reports, now)
            record_skew(self._db, fresh, now)
            for site, node, status, at in statuses:
                self._db.execute(
                    "INSERT INTO nodes (node, site, status, status_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (node) DO UPDATE SET status = excluded.status, "
                    "status_at = excluded.status_at, site = excluded.site",
                    (node, site, status, at),
                )
            acks = self._acks(reports, [*rejects, *conflicts])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            # SQLite may have rolled back already (disk full): a second ROLLBACK would raise
            # "no transaction is active" and hide the real cause.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StoreWriteError(f"{self.path}: {exc}", write_cause(exc)) from exc
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self.duplicates += dups
        return BatchResult(stored=len(fresh), duplicates=dups, conflicts=len(conflicts), acks=acks)

    def _conflicts(self, again: list[WindowReport], texts: list[str], now: float) -> list[Reject]:
        """Windows whose key is stored with other counts: data, kept in `rejected`."""
        return [
            Reject(window_topic(r.site, r.node), "conflict", detail, text.encode(), now,
                   stored_head=payload_head(stored.encode()))
            for r, text, detail, stored in find_conflicts(self._db, again, texts)
        ]  # fmt: skip

    def _acks(
        self, reports: Sequence[WindowReport], rejects: Sequence[Reject]
    ) -> dict[str, tuple[str, int]]:
        return commit_acks(self._db, reports, [(x.topic, x.payload) for x in rejects])

    def bulk_insert_rows(self, rows: Iterable[Sequence[Any]], *, batch: int = 50_000) -> None:
        """executemany of flat rows in `windows` column order (see `window_row`), one
        transaction per batch; for benchmarks and bulk loads: no node bookkeeping, duplicates
        ignored, the rollup triggers run as for any insert."""
        for chunk in iter_batches(rows, batch):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(_INSERT, chunk)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def add_rejects(self, rejects: Sequence[Reject]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._add_rejects(rejects)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _add_rejects(self, rejects: Sequence[Reject]) -> None:
        if rejects:
            self._db.executemany(
                "INSERT INTO rejected (received_at, topic, reason, detail, payload_head, "
                "stored_head) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        x.received_at,
                        x.topic[:300],
                        x.reason,
                        x.detail[:300],
                        payload_head(x.payload),
                        x.stored_head,
                    )
                    for x in rejects
                ],
            )

    def _update_nodes(
        self, fresh: list[WindowReport], seen: Sequence[WindowReport], now: float
    ) -> None:
        sites: dict[str, str] = {}
        seen_n: dict[str, int] = {}
        for r in seen:
            sites[r.node] = r.site
            seen_n[r.node] = seen_n.get(r.node, 0) + 1
        new_by_node: dict[str, list[int]] = {}
        for r in fresh:
            new_by_node.setdefault(r.node, []).append(r.seq)
        known = {
            node: (last, gaps)
            for node, last, gaps in self._db.execute(
                "SELECT node, last_seq, seq_gaps FROM nodes"
            ).fetchall()
            if node in sites
        } if len(sites) > 50 else {
            node: (last, gaps)
            for node in sites
            for last, gaps in self._db.execute(
                "SELECT last_seq, seq_gaps FROM nodes WHERE node = ?", (node,)
            ).fetchall()
        }  # fmt: skip
        params = []
        for node, site in sites.items():
            last_seq, gaps = known.get(node, (None, 0))
            new = sorted(new_by_node.get(node, ()))
            for seq in new:
                # A gap: seqs the node assigned that never arrived (yet); a late arrival below
                # last_seq fills one back in.
                if last_seq is None:
                    last_seq = seq
                elif seq > last_seq:
                    gaps += seq - last_seq - 1
                    last_seq = seq
                elif gaps > 0:
                    gaps -= 1
            params.append((node, site, now, now, last_seq, len(new), gaps, seen_n[node] - len(new)))
        self._db.executemany(
            "INSERT INTO nodes (node, site, first_seen, last_seen, last_seq, windows, "
            "seq_gaps, duplicates) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (node) DO UPDATE SET site = excluded.site, "
            "first_seen = COALESCE(first_seen, excluded.first_seen), "
            "last_seen = excluded.last_seen, last_seq = excluded.last_seq, "
            "windows = windows + excluded.windows, seq_gaps = excluded.seq_gaps, "
            "duplicates = duplicates + excluded.duplicates",
            params,
        )

    def set_status(self, site: str, node: str, status: str) -> None:
        self.add_windows([], statuses=[(site, node, status, self._clock())])

    # -- reading ---------------------------------------------------------------------------------

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return list(self._db.execute(sql, params).fetchall())

    def iter_query(
        self, sql: str, params: Any = (), *, chunk: int = 10_000
    ) -> Iterator[tuple[Any, ...]]:
        cur = self._db.execute(sql, params)
        while rows := cur.fetchmany(chunk):
            yield from rows

    def windows_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM windows").fetchone()[0])

    def node_rows(self) -> list[tuple[Any, ...]]:
        """node, site, first_seen, last_seen, status, status_at, last_seq, windows, seq_gaps,
        duplicates, rejected (rejects whose topic names this node)."""
        return self.query(
            "SELECT n.node, n.site, n.first_seen, n.last_seen, n.status, n.status_at, n.last_seq, "
            "n.windows, n.seq_gaps, n.duplicates, "
            "(SELECT COUNT(*) FROM rejected r WHERE r.topic LIKE 'bzaudit/v1/%/' || n.node || '/%')"
            " FROM nodes n ORDER BY n.site, n.node"
        )

    def rejected_rows(self) -> list[tuple[Any, ...]]:
        """id, received_at, topic, reason, detail, payload_head."""
        return self.query(
            "SELECT id, received_at, topic, reason, detail, payload_head FROM rejected ORDER BY id"
        )

    def close(self) -> None:
        self._db.close()


def iter_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
