"""The SQLite store's schema and the write SQL that only SQLite runs (no sqlite3 here: sqlite.py
holds the connection; queries.py, rows.py and delivery.py hold the SQL both backends share)."""

from __future__ import annotations

from typing import Final

from aggregator.store import delivery, queries, rows

# 2: acks, conflicts, clock skew (delivery.MIGRATE_2); 3: `windows` an ordinary rowid table.
SCHEMA_VERSION: Final = 3
# Not WITHOUT ROWID: a row here is ~550 bytes with its payload, and SQLite keeps WITHOUT ROWID
# rows inside the key's B-tree, which suits rows under ~1/20 of a page; inserting 500 nodes'
# windows round robin then rewrote ~3.6 times the pages (85 against 24 us a window). The
# primary key is then a unique index, the idempotency key as before.
WINDOWS_TABLE: Final = """CREATE TABLE IF NOT EXISTS {name} (
  node TEXT NOT NULL, site TEXT NOT NULL, window_start INTEGER NOT NULL,
  window_s INTEGER NOT NULL, seq INTEGER NOT NULL, received_at REAL NOT NULL,
  bz_android INTEGER NOT NULL, bz_ios_fg INTEGER NOT NULL, bz_ios_bg INTEGER NOT NULL,
  bz_slot_android INTEGER NOT NULL, iphone INTEGER NOT NULL, phone INTEGER NOT NULL,
  other INTEGER NOT NULL, headcount INTEGER, scanned_s REAL NOT NULL, adverts INTEGER NOT NULL,
  clock_synced INTEGER, mode TEXT NOT NULL, restarts INTEGER NOT NULL,
  below_gate INTEGER NOT NULL, payload TEXT NOT NULL,
  PRIMARY KEY (node, window_start)
)"""
WINDOWS_INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS windows_site_start ON windows (site, window_start)",
    "CREATE INDEX IF NOT EXISTS windows_start ON windows (window_start)",
    "CREATE INDEX IF NOT EXISTS windows_node_seq ON windows (node, seq)",
)
DDL: Final = (
    WINDOWS_TABLE.format(name="windows"),
    *WINDOWS_INDEXES[:2],
    """CREATE TABLE IF NOT EXISTS rejected (
  id INTEGER PRIMARY KEY, received_at REAL NOT NULL, topic TEXT NOT NULL,
  reason TEXT NOT NULL, detail TEXT NOT NULL, payload_head TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS nodes (
  node TEXT PRIMARY KEY, site TEXT NOT NULL, first_seen REAL, last_seen REAL,
  status TEXT NOT NULL DEFAULT 'unknown', status_at REAL, last_seq INTEGER,
  windows INTEGER NOT NULL DEFAULT 0, seq_gaps INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0)""",
)
COLUMNS: Final = ", ".join(rows.WINDOW_COLUMNS)
# Schema 2 -> 3: the same rows into a rowid table. Dropping the old table drops its indexes and
# rollup triggers, made again here (the rollup's rows stay: the windows did not change).
MIGRATE_3: Final = (
    WINDOWS_TABLE.format(name="windows_v3"),
    f"INSERT INTO windows_v3 ({COLUMNS}) SELECT {COLUMNS} FROM windows ORDER BY node, window_start",
    "DROP TABLE windows",
    "ALTER TABLE windows_v3 RENAME TO windows",
    *WINDOWS_INDEXES,
)
INSERT: Final = f"INSERT OR IGNORE INTO windows ({COLUMNS}) VALUES ({', '.join('?' * 21)})"
NODES_UPSERT = (
    "INSERT INTO nodes (node, site, first_seen, last_seen, last_seq, windows, "
    "seq_gaps, duplicates) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (node) DO UPDATE SET site = excluded.site, "
    "first_seen = COALESCE(first_seen, excluded.first_seen), "
    "last_seen = excluded.last_seen, last_seq = excluded.last_seq, "
    "windows = windows + excluded.windows, seq_gaps = excluded.seq_gaps, "
    "duplicates = duplicates + excluded.duplicates"
)
# Last writer wins on status_at (the time an aggregator received the status), so several
# aggregators that all receive a node's retained status never roll it back.
STATUS_UPSERT = (
    "INSERT INTO nodes (node, site, status, status_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (node) DO UPDATE SET status = excluded.status, "
    "status_at = excluded.status_at, site = excluded.site "
    "WHERE nodes.status_at IS NULL OR excluded.status_at >= nodes.status_at"
)
REJECT_INSERT = (
    "INSERT INTO rejected (received_at, topic, reason, detail, payload_head, stored_head) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def migrations(version: int, rollup: bool) -> tuple[str, ...]:
    """The statements from schema `version` (0: just created) to SCHEMA_VERSION."""
    to_2 = delivery.MIGRATE_2 if version < 2 else ()
    to_3 = MIGRATE_3 + (queries.ROLLUP_STATEMENTS if rollup else ()) if version in (1, 2) else ()
    return to_2 + to_3
