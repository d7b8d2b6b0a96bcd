"""Delivery bookkeeping of the PostgreSQL store, inside a batch's transaction (no psycopg here):
conflicts (same key, other counts) and each touched node's ack (docs/architecture.md §7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregator.store import delivery as dl
from aggregator.store import pg_schema as pg
from aggregator.store import rows
from aggregator.store.interface import Reject
from scanner.wire.schema import WindowReport


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
