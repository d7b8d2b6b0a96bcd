"""Node-health SQL both backends run (the dashboard's Nodes page): rejects by (topic, reason)
and each node's latest clock state.

Aggregates only: counts per (topic, reason) and one column of each node's latest window; the
payload heads kept with the rejects are never read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from aggregator.store.interface import NodeClock, RejectCount

REJECT_COUNTS_SQL: Final = (
    "SELECT topic, reason, COUNT(*), MAX(received_at) FROM rejected "
    "GROUP BY topic, reason ORDER BY topic, reason"
)

# The primary key (node, window_start) makes this one index probe per node on both engines.
NODE_CLOCKS_SQL: Final = """
SELECT n.node,
       (SELECT w.clock_synced FROM windows w WHERE w.node = n.node
        ORDER BY w.window_start DESC LIMIT 1),
       (SELECT MAX(w.window_start + w.window_s) FROM windows w WHERE w.node = n.node)
FROM nodes n ORDER BY n.node
"""


def reject_counts(found: Iterable[tuple[Any, ...]]) -> list[RejectCount]:
    return [RejectCount(str(t), str(r), int(n), float(at)) for t, r, n, at in found]


def node_clocks(found: Iterable[tuple[Any, ...]]) -> list[NodeClock]:
    return [
        NodeClock(str(node), None if synced is None else bool(synced),
                  None if end is None else int(end))
        for node, synced, end in found
    ]  # fmt: skip
