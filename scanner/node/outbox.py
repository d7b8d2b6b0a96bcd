"""The node's durable outbox (the only sqlite3 on the node): every closed window lands here first.

A window is written, committed and given its per-node `seq` before any publish attempt, and is
marked sent only after the broker's PUBACK (docs/architecture.md §7). Rows hold the encoded payload
bytes
only: counts, never identifiers (docs/architecture.md §5).

Durability: WAL with `synchronous=FULL`. A node writes one row a minute, so the extra fsync per
commit costs nothing, and FULL (unlike NORMAL) keeps the last committed window across a power cut,
which is exactly the event a field node on a wall socket meets.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ScannerError
from scanner.wire.codec import encode, with_seq
from scanner.wire.schema import WindowReport
from scanner.wire.topics import window_topic

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_DDL = (
    """CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
  window_start INTEGER NOT NULL, created_at REAL NOT NULL, sent_at REAL)""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class OutboxError(ScannerError):
    """The outbox file cannot be opened or is not an outbox."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    rows: int
    unsent: int
    next_seq: int
    dropped: int


class Outbox:
    """Durable, bounded FIFO of encoded windows with the node's seq counter."""

    def __init__(
        self,
        path: Path | str,
        *,
        retention_s: float = 7 * 86400,
        max_rows: int = 200_000,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self._retention_s = retention_s
        self._max_rows = max_rows
        self._key = key
        self._clock = clock
        try:
            if readonly:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                with self._tx():
                    for stmt in _DDL:
                        self._db.execute(stmt)
                    self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._db.execute("SELECT 1 FROM outbox LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: not a usable outbox ({exc})") from exc
        if version != SCHEMA_VERSION:
            raise OutboxError(f"{self.path}: outbox schema {version}, expected {SCHEMA_VERSION}")
        self._next = self._meta("next_seq")
        row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()
        if row[0] is not None:
            self._next = max(self._next, row[0] + 1)
        self._dropped = self._meta("dropped")

    # -- writing ---------------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The seq the next `put` will assign (the pipeline stamps it on the report)."""
        return self._next

    def dropped(self) -> int:
        """Unsent windows ever dropped by the hard cap; goes into Health.outbox_dropped."""
        return self._dropped

    def put(self, report: WindowReport) -> int:
        """Assign the next seq, encode, commit; returns the seq. SchemaError if invalid."""
        seq = self._next
        if report.seq != seq:
            report = with_seq(report, seq)
        payload = encode(report, key=self._key)
        topic = window_topic(report.site, report.node)
        now = self._clock()
        with self._tx():
            self._db.execute(
                "INSERT INTO outbox (seq, topic, payload, window_start, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (seq, topic, payload, report.window_start, now),
            )
            self._set_meta("next_seq", seq + 1)
            self._prune(now)
        self._next = seq + 1
        return seq

    def mark_sent(self, seq: int) -> None:
        self.mark_sent_many([seq])

    def mark_sent_many(self, seqs: list[int]) -> None:
        if not seqs:
            return
        now = self._clock()
        with self._tx():
            self._db.executemany(
                "UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL",
                [(now, s) for s in seqs],
            )

    def prune(self) -> None:
        with self._tx():
            self._prune(self._clock())

    def _prune(self, now: float) -> None:
        # Sent rows first: past retention, then the oldest sent rows while above the cap.
        self._db.execute(
            "DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
            (now - self._retention_s,),
        )
        total = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        excess = total - self._max_rows
        if excess <= 0:
            return
        self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE sent_at IS NOT NULL "
            "ORDER BY seq LIMIT ?)",
            (excess,),
        )
        total = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        excess = total - self._max_rows
        if excess <= 0:
            return
        # Only unsent rows left above the cap: the broker has been away far too long. Drop the
        # oldest, and say so loudly; the count travels in Health.outbox_dropped of later windows.
        self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
            (excess,),
        )
        self._dropped += excess
        self._set_meta("dropped", self._dropped)
        log.error(
            "outbox %s full (%d rows): dropped %d UNSENT window(s), %d in total; "
            "the broker has been unreachable too long or max_rows is too small",
            self.path, self._max_rows, excess, self._dropped,
        )  # fmt: skip

    # -- reading ---------------------------------------------------------------------------------

    def pending(self, limit: int = 100) -> list[tuple[int, str, bytes]]:
        """Unsent windows, oldest first: (seq, topic, payload)."""
        rows = self._db.execute(
            "SELECT seq, topic, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [(int(s), str(t), bytes(p)) for s, t, p in rows]

    def all_payloads(self) -> Iterator[tuple[int, str, bytes]]:
        """Every row still held, sent or not (for `bzagg ingest`)."""
        cur = self._db.execute("SELECT seq, topic, payload FROM outbox ORDER BY seq")
        for s, t, p in cur:
            yield int(s), str(t), bytes(p)

    def stats(self) -> OutboxStats:
        rows, unsent = self._db.execute(
            "SELECT COUNT(*), COUNT(*) - COUNT(sent_at) FROM outbox"
        ).fetchone()
        return OutboxStats(rows=rows, unsent=unsent, next_seq=self._next, dropped=self._dropped)

    def close(self) -> None:
        self._db.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _tx(self) -> _Tx:
        return _Tx(self._db)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
