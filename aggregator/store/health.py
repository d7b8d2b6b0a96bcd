"""Node-health SQL for the dashboard: rejects by reason and each node's latest clock state.

Aggregates only: counts per (topic, reason) and one column of each node's latest window; the
payload heads kept with the rejects are never read here.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

# Changes whenever another connection commits (SQLite's PRAGMA data_version): the dashboard
# polls it to notice windows stored by `bzagg serve` without reading them.
DATA_VERSION_SQL: Final = "PRAGMA data_version"

REJECTS_BY_TOPIC_SQL: Final = (
    "SELECT topic, reason, COUNT(*), MAX(received_at) FROM rejected GROUP BY topic, reason"
)

# The primary key (node, window_start) makes this one index probe per node.
LAST_CLOCK_SQL: Final = """
SELECT n.node,
       (SELECT w.clock_synced FROM windows w WHERE w.node = n.node
        ORDER BY w.window_start DESC LIMIT 1),
       (SELECT MAX(w.window_start + w.window_s) FROM windows w WHERE w.node = n.node)
FROM nodes n
"""


class QueryStore(Protocol):
    def query(self, sql: str, params: Any = ...) -> list[tuple[Any, ...]]: ...


def data_version(store: QueryStore) -> int:
    return int(store.query(DATA_VERSION_SQL, ())[0][0])


def rejects_by_topic(store: QueryStore) -> list[tuple[str, str, int, float]]:
    """(topic, reason, count, last received_at) for every topic and reason seen."""
    return [(str(t), str(r), int(n), float(at)) for t, r, n, at in
            store.query(REJECTS_BY_TOPIC_SQL, ())]  # fmt: skip


def last_clock(store: QueryStore) -> dict[str, tuple[bool | None, int | None]]:
    """node -> (clock synced in its latest window (None: not reported), end of that window)."""
    return {
        str(node): (None if synced is None else bool(synced), None if end is None else int(end))
        for node, synced, end in store.query(LAST_CLOCK_SQL, ())
    }
