"""The PostgreSQL store's bookkeeping on a connection it is handed (no psycopg here): schema
migrations, and inside a batch's transaction the conflicts (same key, other counts), the nodes
table and each touched node's ack (docs/architecture.md §7)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aggregator.store import delivery as dl
from aggregator.store import pg_schema as pg
from aggregator.store.interface import Reject, Status, StoreError
from aggregator.store.nodes import node_updates
from scanner.wire.schema import WindowReport

log = logging.getLogger("aggregator.store.postgres")

# SQLSTATE classes and codes (PostgreSQL manual, appendix A) named as the SQLite store names its
# result codes, so `serve` logs and recovers the same way on both.
_CAUSES = {"53100": "disk full", "25006": "read-only", "58030": "I/O error",
           "42501": "permission denied", "53200": "out of memory"}  # fmt: skip
# Proves a write would pass without changing anything: a read-only transaction (a standby, or
# default_transaction_read_only) refuses the statement before it looks at any row.
WRITE_PROBE = "UPDATE schema_migrations SET version = version WHERE false"


def write_cause(exc: BaseException) -> str | None:
    """The cause of a failed PostgreSQL call, from its SQLSTATE (never from the message text)."""
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str):
        return _CAUSES.get(state, "connection lost" if state.startswith("08") else None)
    # psycopg raises OperationalError without a SQLSTATE when the server is unreachable.
    return "connection lost" if type(exc).__name__ == "OperationalError" else None


def migrate(db: Any, where: str, latest: int) -> None:
    """Apply the missing migrations in one transaction, under an advisory lock so that several
    aggregators starting at once apply each exactly once."""
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (pg.MIGRATION_LOCK,))
        db.execute(pg.MIGRATIONS_TABLE)
        done = {v for (v,) in db.execute("SELECT version FROM schema_migrations")}
        unknown = sorted(v for v in done if v > latest)
        if unknown:
            raise StoreError(f"{where}: store schema {unknown[-1]}, expected {latest}",
                             where=where)  # fmt: skip
        for version, statements in pg.MIGRATIONS:
            if version not in done:
                for stmt in statements:
                    db.execute(stmt)
                db.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("%s: schema migration %d applied", where, version)


def first_of_each_key(reports: Sequence[WindowReport]) -> dict[int, None]:
    """Indexes of the first report of each (node, window_start), in batch order."""
    seen: dict[tuple[str, int], int] = {}
    for i, r in enumerate(reports):
        seen.setdefault((r.node, r.window_start), i)
    return dict.fromkeys(sorted(seen.values()))


def conflicts(
    cur: Any,
    reports: Sequence[WindowReport],
    flat: list[tuple[Any, ...]],
    is_fresh: list[bool],
    now: float,
) -> list[Reject]:
    out = []
    for r, row, fresh in zip(reports, flat, is_fresh, strict=True):
        if fresh:
            continue
        found = cur.execute(pg.STORED_PAYLOAD, (r.node, r.window_start)).fetchone()
        if found is not None and not dl.same_counts(found[0], row[-1]):
            out.append(dl.conflict_reject(r, row[-1], found[0], int(found[1]), now))
            cur.execute(pg.ADD_CONFLICT, (r.node,))
    return out


def acks(cur: Any, sites: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Advance the touched nodes' acked_seq over what is committed now: node -> (site, ack)."""
    out, todo = {}, sorted(sites)
    while todo:
        moved, again = {}, []
        for node, acked, top, seen in cur.execute(pg.ADVANCE_ACKS, (todo,)).fetchall():
            if top is not None:
                moved[node] = int(top)
                if seen == pg.ACK_STEP and top - (-1 if acked is None else acked) == seen:
                    again.append(node)  # a run longer than one step: go on from its end
            if top is not None or acked is not None:
                out[node] = (sites[node], int(top if top is not None else acked))
        if moved:
            names = sorted(moved)
            cur.execute(pg.SET_ACKS, (names, [moved[n] for n in names]))
        todo = again
    return out


def bookkeep(
    cur: Any,
    reports: Sequence[WindowReport],
    fresh: Sequence[WindowReport],
    every: Sequence[Reject],
    statuses: Sequence[Status],
    now: float,
) -> dict[str, tuple[str, int]]:
    """The nodes table after a batch's windows are in: rejected seqs, counters, statuses, clock
    skew, and each touched node's ack (returned as node -> (site, seq))."""
    rejected = dl.rejected_seqs([(x.topic, x.payload) for x in every])
    for site, node, seq in rejected:
        cur.execute(pg.LOCK_NODES, ([node], [site]))
        cur.execute(pg.REJECTED_SEQ, (node, seq))
    if reports:
        sites = {r.node: r.site for r in reports}
        names = sorted(sites)
        # Row locks in key order, so two aggregators never deadlock on the same nodes.
        cur.execute(pg.LOCK_NODES, (names, [sites[n] for n in names]))
        known = {n: (last, gaps) for n, last, gaps in cur.execute(pg.KNOWN_NODES, (names,))}
        cur.executemany(pg.NODES_UPSERT, node_updates(fresh, reports, known, now))
        cur.executemany(pg.SET_SKEW, [(skew, n) for n, skew in dl.skews(fresh, now).items()])
    if statuses:
        cur.executemany(pg.STATUS_UPSERT, [(n, site, st, at) for site, n, st, at in statuses])
    touched = {r.node: r.site for r in reports}
    for site, node, _ in rejected:
        touched.setdefault(node, site)
    return acks(cur, touched)
