"""Read-only SQLite connections: the dashboard's view of a live store, and a node outbox carried
back from an offline visit. Neither can write, whatever SQL it is given."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from aggregator.store import queries as q
from aggregator.store.interface import StoreError


def open_read_only(path: Path, schema_version: int) -> tuple[sqlite3.Connection, bool]:
    """A mode=ro connection to the store at `path` and whether it has the rollup.

    It still reads through the WAL of a running `bzagg serve`.
    """
    if not path.is_file():
        raise StoreError(f"{path}: no store there (run `bzagg serve` or pass --db)",
                         where=str(path))  # fmt: skip
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                             check_same_thread=False)  # fmt: skip
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != schema_version:
            db.close()
            raise StoreError(f"{path}: store schema {version}, expected {schema_version}",
                             where=str(path))  # fmt: skip
        return db, bool(db.execute(q.ROLLUP_EXISTS_SQL).fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the store ({exc})", where=str(path)) from exc


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
