"""The node's durable outbox (the only sqlite3 on the node): every closed window lands here first.

A window is written, committed and given its per-node `seq` before any publish attempt. A row is
queued (`sent_at` NULL), in flight after the broker's PUBACK (`sent_at` set) and done only when the
aggregator has confirmed it (`acked_at` set, from its ack of the highest contiguous seq stored);
in-flight rows that stay unconfirmed are re-sent (docs/architecture.md §7). Seq is a function of
the outbox: a window whose `window_start` is already there keeps its row and its seq. Rows hold the
encoded payload bytes only: counts, never identifiers (docs/architecture.md §5).

Durability: WAL with `synchronous=FULL`. A node writes one row a minute, so the extra fsync per
commit costs nothing, and FULL (unlike NORMAL) keeps the last committed window across a power cut,
which is exactly the event a field node on a wall socket meets.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from scanner.node.outbox_schema import (
    DDL,
    DDL_2,
    MIGRATE_1,
    SCHEMA_VERSION,
    OutboxError,
    OutboxStats,
    OutboxWriteError,
    Tx,
    sqlite_cause,
)
from scanner.wire.codec import encode, with_seq
from scanner.wire.schema import WindowReport
from scanner.wire.topics import window_topic

log = logging.getLogger(__name__)


__all__ = ["SCHEMA_VERSION", "Outbox", "OutboxError", "OutboxStats", "OutboxWriteError"]


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
                # One row a minute needs no page cache to speak of; SQLite's default (2 MB per
                # connection) only makes a long-running node's memory grow with its outbox.
                self._db.execute("PRAGMA cache_size=-128")
                with self._tx():
                    self._migrate()
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._db.execute("SELECT 1 FROM outbox LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            cause = sqlite_cause(exc)
            if cause is not None and not readonly:
                raise OutboxWriteError(self.path, cause, str(exc)) from exc
            raise OutboxError(f"{self.path}: not a usable outbox ({exc})") from exc
        if version not in (1, SCHEMA_VERSION) or (version == 1 and not readonly):
            raise OutboxError(f"{self.path}: outbox schema {version}, expected {SCHEMA_VERSION}")
        self._next = self._meta("next_seq")
        row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()
        if row[0] is not None:
            self._next = max(self._next, row[0] + 1)
        self._dropped = self._meta("dropped")
        self._has_acked = version >= 2

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, SCHEMA_VERSION):
            return  # the caller reports the unknown version
        fresh = (
            self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'outbox'").fetchone() is None
        )
        for stmt in DDL:
            self._db.execute(stmt)
        if version == 1 and not fresh:
            for stmt in MIGRATE_1:
                self._db.execute(stmt)
        for stmt in DDL_2:
            self._db.execute(stmt)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- writing ---------------------------------------------------------------------------------

    def next_seq(self) -> int:
        """The seq the next `put` will assign (the pipeline stamps it on the report)."""
        return self._next

    def dropped(self) -> int:
        """Unsent windows ever dropped by the hard cap; goes into Health.outbox_dropped."""
        return self._dropped

    def put(self, report: WindowReport) -> int:
        """Assign the next seq, encode, commit; returns the seq. SchemaError if invalid.

        A window whose `window_start` is already held (a replay rerun after a crash) keeps its
        row and seq: nothing is appended and no seq is burnt. OutboxWriteError when the
        filesystem refuses the write (nothing changed; the caller may retry later).
        """
        held = self._db.execute(
            "SELECT seq, payload FROM outbox WHERE window_start = ? ORDER BY seq LIMIT 1",
            (report.window_start,),
        ).fetchone()
        if held is not None:
            if bytes(held[1]) != encode(with_seq(report, int(held[0])), key=self._key):
                log.warning(
                    "outbox %s: window %d already held as seq %d with other contents; "
                    "kept the first", self.path, report.window_start, held[0],
                )  # fmt: skip
            return int(held[0])
        seq = self._next
        if report.seq != seq:
            report = with_seq(report, seq)
        payload = encode(report, key=self._key)
        topic = window_topic(report.site, report.node)
        now = self._clock()
        try:
            with self._tx():
                self._db.execute(
                    "INSERT INTO outbox (seq, topic, payload, window_start, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (seq, topic, payload, report.window_start, now),
                )
                self._set_meta("next_seq", seq + 1)
                self._prune(now)
        except sqlite3.Error as exc:
            cause = sqlite_cause(exc)
            if cause is None:
                raise
            raise OutboxWriteError(self.path, cause, str(exc)) from exc
        self._next = seq + 1
        return seq

    def high_water(self) -> int | None:
        """End (epoch s) of the latest window held, or None: a new window must not start before."""
        row = self._db.execute(
            "SELECT window_start, payload FROM outbox ORDER BY window_start DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return int(row[0]) + int(json.loads(bytes(row[1]))["window_s"])

    def mark_sent_many(self, seqs: list[int]) -> None:
        """PUBACKed: queued -> in flight (a re-send refreshes the time it went out)."""
        if not seqs:
            return
        now = self._clock()
        with self._tx():
            self._db.executemany(
                "UPDATE outbox SET sent_at = ? WHERE seq = ? AND acked_at IS NULL",
                [(now, s) for s in seqs],
            )

    def confirm_through(self, seq: int) -> int:
        """The aggregator has committed every seq up to `seq`: those rows are done.

        Returns how many rows became confirmed.
        """
        with self._tx():
            cur = self._db.execute(
                "UPDATE outbox SET acked_at = ?, sent_at = COALESCE(sent_at, ?) "
                "WHERE seq <= ? AND acked_at IS NULL",
                (now := self._clock(), now, seq),
            )
        return int(cur.rowcount)

    def prune(self) -> None:
        with self._tx():
            self._prune(self._clock())

    def _prune(self, now: float) -> None:
        # Confirmed rows first: past retention, then the oldest confirmed rows above the cap.
        self._db.execute(
            "DELETE FROM outbox WHERE acked_at IS NOT NULL AND acked_at < ?",
            (now - self._retention_s,),
        )
        total = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        excess = total - self._max_rows
        if excess <= 0:
            return
        self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE acked_at IS NOT NULL "
            "ORDER BY seq LIMIT ?)",
            (excess,),
        )
        total = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        excess = total - self._max_rows
        if excess <= 0:
            return
        # Only unconfirmed rows left above the cap: the broker has been away far too long. Drop the
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

    def pending(
        self, limit: int = 100, *, resend_before: float | None = None
    ) -> list[tuple[int, str, bytes]]:
        """Windows to publish, oldest first: (seq, topic, payload) of `pending_seqs`."""
        return self.rows(self.pending_seqs(limit, resend_before=resend_before))

    def pending_seqs(self, limit: int = 100, *, resend_before: float | None = None) -> list[int]:
        """Seqs to publish, oldest first: queued ones, and with `resend_before` also in-flight
        ones that went out before then and are still unconfirmed. Without their payloads, so a
        publisher can plan a whole round and hold only what is in flight (`rows`)."""
        if resend_before is None:
            sql, params = "sent_at IS NULL", (limit,)
        else:
            sql = "acked_at IS NULL AND (sent_at IS NULL OR sent_at < ?)"
            params = (resend_before, limit)  # type: ignore[assignment]
        cur = self._db.execute(f"SELECT seq FROM outbox WHERE {sql} ORDER BY seq LIMIT ?", params)
        return [int(s) for (s,) in cur]

    def rows(self, seqs: list[int]) -> list[tuple[int, str, bytes]]:
        """(seq, topic, payload) of those of `seqs` still held, in the order given. One point
        lookup each: an `IN (?, ...)` per list length would be a prepared statement per length
        in every connection's statement cache (SQLite memory that stays)."""
        sql = "SELECT seq, topic, payload FROM outbox WHERE seq = ?"
        found = (self._db.execute(sql, (s,)).fetchone() for s in seqs)
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in found if r is not None]

    def unconfirmed(self) -> tuple[int, float | None]:
        """How many rows the aggregator has not confirmed, and when the oldest was written."""
        n, oldest = self._db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE acked_at IS NULL"
        ).fetchone()
        return int(n), None if oldest is None else float(oldest)

    def all_payloads(self) -> Iterator[tuple[int, str, bytes]]:
        """Every row still held, sent or not (for `bzagg ingest`)."""
        cur = self._db.execute("SELECT seq, topic, payload FROM outbox ORDER BY seq")
        for s, t, p in cur:
            yield int(s), str(t), bytes(p)

    def stats(self) -> OutboxStats:
        acked = "COUNT(acked_at)" if self._has_acked else "COUNT(sent_at)"
        rows, unsent, unconfirmed = self._db.execute(
            f"SELECT COUNT(*), COUNT(*) - COUNT(sent_at), COUNT(*) - {acked} FROM outbox"
        ).fetchone()
        return OutboxStats(
            rows=rows, unsent=unsent, next_seq=self._next, dropped=self._dropped,
            unconfirmed=unconfirmed,
        )  # fmt: skip

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

    def _tx(self) -> Tx:
        return Tx(self._db)
