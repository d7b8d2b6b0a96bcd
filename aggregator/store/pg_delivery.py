"""The PostgreSQL store's bookkeeping on a connection it is handed (no psycopg here): schema
migrations, and inside a batch's transaction the conflicts (same key, other counts), the nodes
table and each touched node's ack (docs/architecture.md §7)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aggregator.store import delivery as dl
from aggregator.store import pg_schema as pg
from aggregator.store import rows
from aggregator.store.interface import Reject, Status, StoreError
from aggregator.store.nodes import node_updates
from scanner.wire.schema import WindowReport

log = logging.getLogger("aggregator.store.postgres")


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


def conflicts(
    cur: Any,
    reports: Sequence[WindowReport],
    flat: list[tuple[Any, ...]],
    fresh_keys: set[tuple[str, int]],
    now: float,
) -> list[Reject]:
    out = []
    for r, row in zip(reports, flat, strict=True):
        if (r.node, r.window_start) in fresh_keys:
            continue
        found = cur.execute(pg.STORED_PAYLOAD, (r.node, r.window_start)).fetchone()
        if found is not None and not dl.same_counts(found[0], row[-1]):
            out.append(dl.conflict_reject(r, row[-1], found[0], int(found[1]), now))
            cur.execute(pg.ADD_CONFLICT, (r.node,))
    return out


def acks(cur: Any, sites: dict[str, str]) -> dict[str, tuple[str, int]]:
    out = {}
    for node in sorted(sites):
        (h,) = cur.execute(pg.dialect(rows.CONTIGUOUS_SQL), {"node": node}).fetchone()
        if h is not None:
            cur.execute(pg.SET_ACK, (int(h), node))
            out[node] = (sites[node], int(h))
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
        for node, skew in dl.skews(fresh, now).items():
            cur.execute(pg.SET_SKEW, (skew, node))
    if statuses:
        cur.executemany(pg.STATUS_UPSERT, [(n, site, st, at) for site, n, st, at in statuses])
    touched = {r.node: r.site for r in reports}
    for site, node, _ in rejected:
        touched.setdefault(node, site)
    return acks(cur, touched)
