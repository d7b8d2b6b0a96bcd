"""The outbox file's schema, its migrations, its errors and its transaction helper."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from scanner.errors import ScannerError

SCHEMA_VERSION = 2
DDL = (
    """CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
  window_start INTEGER NOT NULL, created_at REAL NOT NULL, sent_at REAL, acked_at REAL)""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
# Version 1 had no `acked_at`: its sent rows were done on PUBACK alone; they count as confirmed.
MIGRATE_1 = (
    "ALTER TABLE outbox ADD COLUMN acked_at REAL",
    "UPDATE outbox SET acked_at = sent_at WHERE sent_at IS NOT NULL",
)
DDL_2 = (
    "CREATE INDEX IF NOT EXISTS outbox_unconfirmed ON outbox (seq) WHERE acked_at IS NULL",
    "CREATE INDEX IF NOT EXISTS outbox_window ON outbox (window_start)",
)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    rows: int
    unsent: int
    next_seq: int
    dropped: int
    unconfirmed: int = 0


class OutboxError(ScannerError):
    """The outbox file cannot be opened or is not an outbox."""


class OutboxWriteError(OutboxError):
    """A write failed for a reason of the filesystem; `cause` is `full`, `readonly` or `io`."""

    def __init__(self, path: Path, cause: str, detail: str) -> None:
        self.cause = cause
        super().__init__(f"{path}: outbox write failed: {cause} ({detail})")


# SQLite primary result codes (https://www.sqlite.org/rescode.html); numbers, so that this module
# needs no sqlite3 import (outbox.py is the node's only one).
_CAUSES: Final = {13: "full", 8: "readonly", 10: "io", 14: "readonly", 3: "readonly"}


def sqlite_cause(exc: BaseException) -> str | None:
    """The filesystem cause of an SQLite error, from its result code (never its message)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    return _CAUSES.get(code & 0xFF)


class Tx:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            # SQLite may already have rolled back (disk full): a second ROLLBACK would raise
            # "no transaction is active" and hide the real cause.
            self._db.execute("ROLLBACK")
