"""Schema 3: a schema-2 store (windows WITHOUT ROWID) is rebuilt as a rowid table with its
rows, indexes, idempotency key and rollup intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aggregator.store import queries as q
from aggregator.store import sqlite_schema as sch
from aggregator.store.sqlite import Store
from tests.delivery.helpers import window


def _schema_2(path: Path) -> None:
    """The windows table as schema 2 had it, and user_version 2."""
    db = sqlite3.connect(path)
    body = sch.WINDOWS_TABLE.format(name="w2").rstrip()
    assert body.endswith(")")
    db.execute(body + " WITHOUT ROWID")
    db.execute(f"INSERT INTO w2 SELECT {sch.COLUMNS} FROM windows")
    db.execute("DROP TABLE windows")
    db.execute("ALTER TABLE w2 RENAME TO windows")
    for stmt in (*sch.WINDOWS_INDEXES, *q.ROLLUP_STATEMENTS):
        db.execute(stmt)
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()


def _without_rowid(path: Path) -> bool:
    db = sqlite3.connect(path)
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'windows'").fetchone()
    db.close()
    return "WITHOUT ROWID" in sql


def test_a_schema_2_store_is_rebuilt_with_everything_in_it(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path, clock=lambda: 5.0)
    store.add_windows([window("n1", "s1", i, seq=i) for i in range(5)])
    clusters_before = store.site_counts()
    store.close()
    _schema_2(path)
    assert _without_rowid(path)
    store = Store(path, clock=lambda: 6.0)
    assert not _without_rowid(path)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == sch.SCHEMA_VERSION == 3
    assert [w.seq for w in store.windows("n1")] == list(range(5))
    assert store.site_counts() == clusters_before
    # The key still makes a redelivery a counted no-op, and the rollup trigger still runs.
    result = store.add_windows([window("n1", "s1", i, seq=i) for i in range(4, 7)])
    assert (result.stored, result.duplicates) == (2, 1)
    assert store.highest_contiguous_seq("n1") == 6
    (n,) = store._db.execute("SELECT SUM(n) FROM window_rollup").fetchone()
    assert n == 7
    names = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
    assert {"windows_site_start", "windows_start", "windows_node_seq", "window_rollup_ins"} <= names
    store.close()


def test_a_new_store_has_a_rowid_windows_table(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite3").close()
    assert not _without_rowid(tmp_path / "s.sqlite3")
