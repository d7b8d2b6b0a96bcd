"""PostgreSQL schema (versioned migrations) and the SQL the PostgreSQL store adds to queries.py.

Same tables and semantics as the SQLite store: `windows` keyed by (node, window_start), `rejected`,
`nodes`, and `window_rollup`, which SQLite keeps with triggers and PostgreSQL in the same
statement that inserts a batch (set-based, so a COPY of 1000 rows is not 1000 trigger calls).
"""

from __future__ import annotations

import re
from typing import Final

from aggregator.store.rows import WINDOW_COLUMNS

# (version, statements): applied in order, each once, under an advisory lock (so several
# aggregators starting together do not race); never edit a released version, add one.
MIGRATIONS: Final = (
    (
        1,
        (
            """CREATE TABLE windows (
  node TEXT NOT NULL, site TEXT NOT NULL, window_start BIGINT NOT NULL,
  window_s INTEGER NOT NULL, seq BIGINT NOT NULL, received_at DOUBLE PRECISION NOT NULL,
  bz_android INTEGER NOT NULL, bz_ios_fg INTEGER NOT NULL, bz_ios_bg INTEGER NOT NULL,
  bz_slot_android INTEGER NOT NULL, iphone INTEGER NOT NULL, phone INTEGER NOT NULL,
  other INTEGER NOT NULL, headcount INTEGER, scanned_s DOUBLE PRECISION NOT NULL,
  adverts INTEGER NOT NULL, clock_synced SMALLINT, mode TEXT NOT NULL,
  restarts INTEGER NOT NULL, below_gate INTEGER NOT NULL, payload TEXT NOT NULL,
  PRIMARY KEY (node, window_start))""",
            "CREATE INDEX windows_site_start ON windows (site, window_start)",
            "CREATE INDEX windows_start ON windows (window_start)",
            "CREATE INDEX windows_node_seq ON windows (node, seq)",
            """CREATE TABLE rejected (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_at DOUBLE PRECISION NOT NULL,
  topic TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, payload_head TEXT NOT NULL)""",
            """CREATE TABLE nodes (
  node TEXT PRIMARY KEY, site TEXT NOT NULL, first_seen DOUBLE PRECISION,
  last_seen DOUBLE PRECISION, status TEXT NOT NULL DEFAULT 'unknown',
  status_at DOUBLE PRECISION, last_seq BIGINT, windows BIGINT NOT NULL DEFAULT 0,
  seq_gaps BIGINT NOT NULL DEFAULT 0, duplicates BIGINT NOT NULL DEFAULT 0)""",
            """CREATE TABLE window_rollup (
  site TEXT NOT NULL, node TEXT NOT NULL, day BIGINT NOT NULL, hour INTEGER NOT NULL,
  cov INTEGER NOT NULL, clock INTEGER NOT NULL, mode TEXT NOT NULL,
  n BIGINT NOT NULL, window_s_sum BIGINT NOT NULL, scanned_sum DOUBLE PRECISION NOT NULL,
  ios_fg BIGINT NOT NULL, ios_bg BIGINT NOT NULL, iphone BIGINT NOT NULL,
  phone BIGINT NOT NULL, android_win BIGINT NOT NULL, restarts BIGINT NOT NULL,
  head_sum BIGINT NOT NULL, head_n BIGINT NOT NULL,
  first_start BIGINT NOT NULL, last_end BIGINT NOT NULL,
  PRIMARY KEY (site, node, day, hour, cov, clock, mode))""",
        ),
    ),
    (
        # Delivery (docs/architecture.md §7): acks, conflicts, clock skew, the stored side of
        # a conflict, and the seqs committed as a rejection (they count for the ack).
        2,
        (
            "ALTER TABLE nodes ADD COLUMN acked_seq BIGINT",
            "ALTER TABLE nodes ADD COLUMN conflicts BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE nodes ADD COLUMN skew_s DOUBLE PRECISION",
            "ALTER TABLE rejected ADD COLUMN stored_head TEXT",
            """CREATE TABLE rejected_seqs (
  node TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (node, seq))""",
        ),
    ),
)
MIGRATION_LOCK: Final = 0x627A6167  # "bzag": the advisory lock key of schema changes
MIGRATIONS_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)

COLUMNS: Final = ", ".join(WINDOW_COLUMNS)
STAGING: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS staging (LIKE windows INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS"
)
_TYPES: Final = (
    "text", "text", "bigint", "integer", "bigint", "float8", "integer", "integer", "integer",
    "integer", "integer", "integer", "integer", "integer", "float8", "integer", "smallint",
    "text", "integer", "integer", "text",
)  # fmt: skip
UNNEST_SOURCE: Final = (
    "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in _TYPES) + ") AS s(" + COLUMNS + ")"
)
# New windows (sorted by key, so concurrent batches take row locks in one order), then their
# sums into the rollup in the same statement; returns the keys that were new.
_KEY = """site, node, window_start - window_start %% 86400,
    (window_start %% 86400) / 3600, CAST(FLOOR(100.0 * scanned_s / window_s) AS INTEGER),
    COALESCE(clock_synced, -1), COALESCE(mode, '')"""
INSERT_WITH_ROLLUP: Final = f"""
WITH ins AS (
  INSERT INTO windows ({COLUMNS})
  SELECT {COLUMNS} FROM ({{source}}) AS src ORDER BY node, window_start
  ON CONFLICT (node, window_start) DO NOTHING
  RETURNING *
), roll AS (
  INSERT INTO window_rollup
  SELECT {_KEY}, COUNT(*), SUM(window_s), SUM(scanned_s), SUM(bz_ios_fg), SUM(bz_ios_bg),
    SUM(iphone), SUM(phone), SUM(bz_android), SUM(COALESCE(restarts, 0)),
    SUM(COALESCE(headcount, 0)), COUNT(headcount), MIN(window_start),
    MAX(window_start + window_s)
  FROM ins GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
  ON CONFLICT (site, node, day, hour, cov, clock, mode) DO UPDATE SET
    n = window_rollup.n + excluded.n,
    window_s_sum = window_rollup.window_s_sum + excluded.window_s_sum,
    scanned_sum = window_rollup.scanned_sum + excluded.scanned_sum,
    ios_fg = window_rollup.ios_fg + excluded.ios_fg,
    ios_bg = window_rollup.ios_bg + excluded.ios_bg,
    iphone = window_rollup.iphone + excluded.iphone,
    phone = window_rollup.phone + excluded.phone,
    android_win = window_rollup.android_win + excluded.android_win,
    restarts = window_rollup.restarts + excluded.restarts,
    head_sum = window_rollup.head_sum + excluded.head_sum,
    head_n = window_rollup.head_n + excluded.head_n,
    first_start = LEAST(window_rollup.first_start, excluded.first_start),
    last_end = GREATEST(window_rollup.last_end, excluded.last_end)
)
SELECT node, window_start FROM ins
"""
LOCK_NODES: Final = (
    "INSERT INTO nodes (node, site) SELECT * FROM unnest(%s::text[], %s::text[]) "
    "ORDER BY 1 ON CONFLICT (node) DO NOTHING"
)
KNOWN_NODES: Final = (
    "SELECT node, last_seq, seq_gaps FROM nodes WHERE node = ANY(%s) ORDER BY node FOR UPDATE"
)
NODES_UPSERT: Final = (
    "INSERT INTO nodes (node, site, first_seen, last_seen, last_seq, windows, seq_gaps, "
    "duplicates) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (node) DO UPDATE SET site = excluded.site, "
    "first_seen = COALESCE(nodes.first_seen, excluded.first_seen), "
    "last_seen = excluded.last_seen, last_seq = excluded.last_seq, "
    "windows = nodes.windows + excluded.windows, seq_gaps = excluded.seq_gaps, "
    "duplicates = nodes.duplicates + excluded.duplicates"
)
STATUS_UPSERT: Final = (
    "INSERT INTO nodes (node, site, status, status_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (node) DO UPDATE SET status = excluded.status, "
    "status_at = excluded.status_at, site = excluded.site "
    "WHERE nodes.status_at IS NULL OR excluded.status_at >= nodes.status_at"
)
REJECT_INSERT: Final = (
    "INSERT INTO rejected (received_at, topic, reason, detail, payload_head, stored_head) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
STORED_PAYLOAD: Final = "SELECT payload, seq FROM windows WHERE node = %s AND window_start = %s"
ADD_CONFLICT: Final = "UPDATE nodes SET conflicts = conflicts + 1 WHERE node = %s"
REJECTED_SEQ: Final = "INSERT INTO rejected_seqs (node, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING"

SET_ACKS: Final = (
    "UPDATE nodes SET acked_seq = v.a FROM unnest(%s::text[], %s::bigint[]) AS v (n, a) "
    "WHERE nodes.node = v.n"
)
SET_SKEW: Final = "UPDATE nodes SET skew_s = %s WHERE node = %s"
# Each node's ack moved up from its stored acked_seq over at most ACK_STEP seqs above it (the
# SQLite store does the same row by row): one statement for a batch's nodes, and work bounded
# by what is new, not by every window the node ever sent.
ACK_STEP: Final = 4096
ADVANCE_ACKS: Final = f"""
SELECT n.node, n.acked_seq,
       MAX(u.seq) FILTER (WHERE u.seq - COALESCE(n.acked_seq, -1) = u.rn), COUNT(u.seq)
FROM nodes n LEFT JOIN LATERAL (
  SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS rn FROM (
    SELECT seq FROM windows w WHERE w.node = n.node AND w.seq > COALESCE(n.acked_seq, -1)
    UNION
    SELECT seq FROM rejected_seqs r WHERE r.node = n.node AND r.seq > COALESCE(n.acked_seq, -1)
    ORDER BY seq LIMIT {ACK_STEP}) AS x
) AS u ON true
WHERE n.node = ANY(%s)
GROUP BY n.node, n.acked_seq
"""

_BIND = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def dialect(sql: str) -> str:
    """queries.py's SQL (SQLite dialect, `:name` binds) for psycopg: `%` doubled, `%(name)s`
    binds, and SQLite's two-argument MIN as LEAST."""
    out = sql.replace("%", "%%").replace("MIN(1.0,", "LEAST(1.0,")
    return _BIND.sub(r"%(\1)s", out)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    head, sep, tail = url.rpartition("@")
    if not sep or ":" not in head.split("://", 1)[-1]:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{tail}"
