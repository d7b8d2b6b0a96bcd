"""Delivery bookkeeping of the SQLite store: acks, conflicts, clock skew, write-failure causes.

SQL and helpers only (sqlite.py owns the connection and the sqlite3 import). A node's *ack* is
the highest seq `s` such that every seq 0..s of that node is committed, as a stored window or
as a rejection that names the seq (docs/architecture.md §7): the node re-sends all above it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from aggregator.store.interface import Reject
from aggregator.store.rows import payload_head, reject_row
from scanner.wire.topics import parse_topic, window_topic

if TYPE_CHECKING:
    from scanner.wire.schema import WindowReport

# Schema 1 -> 2: acks, conflicts, clock skew; the first bytes of the stored side of a conflict.
MIGRATE_2: Final = (
    "ALTER TABLE nodes ADD COLUMN acked_seq INTEGER",
    "ALTER TABLE nodes ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE nodes ADD COLUMN skew_s REAL",
    "ALTER TABLE rejected ADD COLUMN stored_head TEXT",
    "CREATE INDEX IF NOT EXISTS windows_node_seq ON windows (node, seq)",
    # Seqs committed as a rejection (a conflict, a bad signature): they count for the ack, so
    # one bad window does not hold every later one unconfirmed for ever.
    """CREATE TABLE IF NOT EXISTS rejected_seqs (
  node TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (node, seq)) WITHOUT ROWID""",
)

# Headroom (docs/architecture.md §7): SQLite checkpoints the WAL into the database every
# `wal_autocheckpoint` pages (default 1000, ~4 MB at 4 KiB pages, which a small volume cannot
# spare) and, with `journal_size_limit`, truncates the WAL file back afterwards instead of
# keeping it at its largest size. 256 pages is ~1 MB: the WAL never needs more than about that.
WAL_AUTOCHECKPOINT_PAGES: Final = 256
WAL_SIZE_LIMIT_BYTES: Final = 1 << 20
WAL_PRAGMAS: Final = (
    f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",
    f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}",
)
# SQLite's own default page cache. A bigger one (`bzagg serve --cache-mb 64`) drains a national
# backlog faster, because a batch touches one leaf page per node in each node-keyed index (a
# store of 400,000 windows took 9,400 windows/s with 64 MB against 6,900 with 2 MB,
# bench/ingest.py --stages); but it fills over days, which is memory a Pi-sized or shared server
# may not have, so it is asked for, not assumed.
DEFAULT_CACHE_MB: Final = 2

# SQLite primary result codes (https://www.sqlite.org/rescode.html).
_CAUSES: Final = {13: "disk full", 8: "read-only", 14: "cannot open", 10: "I/O error",
                  3: "permission denied", 5: "busy", 6: "locked"}  # fmt: skip
# Causes after which the connection must be opened again: SQLite keeps a connection that was
# opened on a read-only file read-only even once the file is writable.
REOPEN_CAUSES: Final = frozenset({"read-only", "cannot open", "I/O error", "permission denied"})
_COMPARED: Final = ("window_s", "counts", "slot_counts", "headcount")


def write_cause(exc: BaseException) -> str | None:
    """What the filesystem said, from the SQLite result code (never from the message text)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    return _CAUSES.get(code & 0xFF, getattr(exc, "sqlite_errorname", None))


def same_counts(stored: str, received: str) -> bool:
    """Whether two payload texts of the same (node, window_start) carry the same counts."""
    if stored == received:
        return True
    try:
        a, b = json.loads(stored), json.loads(received)
    except ValueError:
        return False
    return all(a.get(k) == b.get(k) for k in _COMPARED)


def payload_seq(payload: bytes) -> int | None:
    """The seq a rejected payload claims, when it is JSON with one (best effort, never raises)."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    seq = obj.get("seq") if isinstance(obj, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**53:
        return seq
    return None


def advance_acks(db: Any, nodes: Iterable[str]) -> dict[str, int | None]:
    """Move each node's acked_seq up over the seqs now committed; returns the new values."""
    out: dict[str, int | None] = {}
    for node in nodes:
        row = db.execute("SELECT acked_seq FROM nodes WHERE node = ?", (node,)).fetchone()
        acked = row[0] if row is not None and row[0] is not None else -1
        start = acked
        while True:
            seqs = [
                r[0]
                for r in db.execute(
                    "SELECT seq FROM windows WHERE node = ? AND seq > ? UNION SELECT seq "
                    "FROM rejected_seqs WHERE node = ? AND seq > ? ORDER BY seq LIMIT 512",
                    (node, acked, node, acked),
                )
            ]
            for s in seqs:
                if s != acked + 1:
                    break
                acked = s
            else:
                if len(seqs) == 512:
                    continue
            break
        if acked != start:
            db.execute("UPDATE nodes SET acked_seq = ? WHERE node = ?", (acked, node))
        out[node] = None if acked < 0 else acked
    return out


def find_conflicts(
    db: Any, again: list[WindowReport], texts: list[str]
) -> list[tuple[WindowReport, str, str, str]]:
    """(report, received text, detail, stored text) for each key stored with other counts;
    bumps the node's conflict counter."""
    out = []
    for r, text in zip(again, texts, strict=True):
        row = db.execute(
            "SELECT payload, seq FROM windows WHERE node = ? AND window_start = ?",
            (r.node, r.window_start),
        ).fetchone()
        if row is None or same_counts(row[0], text):
            continue
        detail = (
            f"(node, window_start) already stored as seq {row[1]} with other counts; "
            f"this is seq {r.seq}"
        )
        out.append((r, text, detail, str(row[0])))
        db.execute("UPDATE nodes SET conflicts = conflicts + 1 WHERE node = ?", (r.node,))
    return out


def commit_acks(
    db: Any, reports: Iterable[WindowReport], rejects: Iterable[tuple[str, bytes]]
) -> dict[str, tuple[str, int]]:
    """Record the seqs of rejected windows, advance each touched node's ack: node -> (site, ack)."""
    sites = {r.node: r.site for r in reports}
    for site, node, seq in rejected_seqs(rejects):
        sites.setdefault(node, site)
        db.execute("INSERT OR IGNORE INTO rejected_seqs (node, seq) VALUES (?, ?)", (node, seq))
        db.execute("INSERT OR IGNORE INTO nodes (node, site) VALUES (?, ?)", (node, site))
    acked = advance_acks(db, sites)
    return {n: (sites[n], s) for n, s in acked.items() if s is not None}


def rejected_seqs(rejects: Iterable[tuple[str, bytes]]) -> list[tuple[str, str, int]]:
    """(site, node, seq) of each rejected window payload that names its seq (both backends)."""
    out = []
    for topic, payload in rejects:
        try:
            site, node, kind = parse_topic(topic)
        except ValueError:
            continue
        seq = payload_seq(payload) if kind == "window" else None
        if seq is not None:
            out.append((site, node, seq))
    return out


def conflict_reject(r: WindowReport, text: str, stored: str, stored_seq: int, now: float) -> Reject:
    """A window whose key is stored with other counts: data, kept in `rejected` with both heads."""
    detail = (
        f"(node, window_start) already stored as seq {stored_seq} with other counts; "
        f"this is seq {r.seq}"
    )
    return Reject(window_topic(r.site, r.node), "conflict", detail, text.encode(), now,
                  stored_head=payload_head(stored.encode()))  # fmt: skip


def record_skew(db: Any, fresh: Iterable[WindowReport], now: float) -> None:
    """Per node, arrival minus window end of its newest live window in this batch.

    A live node publishes a window right after it closes, so this is a few seconds; far below
    zero means its clock is ahead of ours, far above (for the newest window) that it is behind
    or that its windows queue somewhere. Replayed and simulated windows say nothing about clocks.
    """
    for node, skew in skews(fresh, now).items():
        db.execute("UPDATE nodes SET skew_s = ? WHERE node = ?", (skew, node))


def skews(fresh: Iterable[WindowReport], now: float) -> dict[str, float]:
    """Node -> arrival minus the end of its newest live window among `fresh` (see record_skew)."""
    newest: dict[str, int] = {}
    for r in fresh:
        if r.health.mode in ("active", "passive"):
            newest[r.node] = max(newest.get(r.node, r.window_end), r.window_end)
    return {node: now - end for node, end in newest.items()}


# node, acked_seq, conflicts, skew_s, and the receipt time of the oldest window above the ack
# (a window the aggregator holds while an earlier one is still missing).
NODE_DELIVERY_SQL: Final = """
SELECT n.node, n.acked_seq, n.conflicts, n.skew_s,
       (SELECT MIN(w.received_at) FROM windows w
         WHERE w.node = n.node AND w.seq > COALESCE(n.acked_seq, -1))
FROM nodes n ORDER BY n.site, n.node
"""


def known_nodes(db: Any, nodes: set[str]) -> dict[str, tuple[int | None, int]]:
    if len(nodes) > 50:
        everything = db.execute("SELECT node, last_seq, seq_gaps FROM nodes")
        return {n: (last, gaps) for n, last, gaps in everything if n in nodes}
    return {
        n: (last, gaps)
        for n in nodes
        for last, gaps in db.execute("SELECT last_seq, seq_gaps FROM nodes WHERE node = ?", (n,))
    }


def conflict_rejects(
    db: Any, again: list[WindowReport], texts: list[str], now: float
) -> list[Reject]:
    """Windows whose key is stored with other counts: data, kept in `rejected` with both heads."""
    return [
        Reject(window_topic(r.site, r.node), "conflict", detail, text.encode(), now,
               stored_head=payload_head(stored.encode()))
        for r, text, detail, stored in find_conflicts(db, again, texts)
    ]  # fmt: skip


def rejected_row(x: Reject) -> tuple[Any, ...]:
    """A `rejected` row with the stored side of a conflict (SQLite's schema 2 column)."""
    return (*reject_row(x), x.stored_head)
