"""The Nodes page's values: the `bzagg nodes` table plus rejects by reason and clock state."""

from __future__ import annotations

from typing import Final

from aggregator.sites import Registry
from aggregator.store.interface import WindowStore
from aggregator.web.models import NodesView, NodeView
from scanner.wire.schema import SchemaError
from scanner.wire.topics import parse_topic

# A node whose retained status says online but that has stored nothing for this long is
# silent: its windows are not arriving (ten 60 s windows).
SILENT_AFTER_SECONDS: Final = 600.0
PROBLEMS: Final = ("offline", "silent", "clock_not_synced", "seq_gaps", "rejected")


def build_nodes(store: WindowStore, registry: Registry, *, version: int, now: float) -> NodesView:
    """Every node the store knows, with the problems found at `now`, problem nodes first."""
    by_node: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    unattributed = 0
    for rc in store.reject_counts():
        totals[rc.reason] = totals.get(rc.reason, 0) + rc.count
        try:
            _site, node, _kind = parse_topic(rc.topic)
        except SchemaError:
            unattributed += rc.count
            continue
        per = by_node.setdefault(node, {})
        per[rc.reason] = per.get(rc.reason, 0) + rc.count
    clocks = {c.node: c for c in store.node_clocks()}
    nodes = []
    for n in store.nodes():
        clock = clocks.get(n.node)
        nodes.append(
            NodeView(
                node=n.node,
                site=n.site,
                site_name=registry.attrs(n.site)[0],
                status=n.status or "unknown",
                status_at=n.status_at,
                first_seen=n.first_seen,
                last_seen=n.last_seen,
                last_window_end=None if clock is None else clock.last_end,
                last_seq=n.last_seq,
                windows=n.windows,
                seq_gaps=n.seq_gaps,
                duplicates=n.duplicates,
                rejected=n.rejected,
                rejected_by_reason=dict(sorted(by_node.get(n.node, {}).items())),
                clock_synced=None if clock is None else clock.clock_synced,
            )
        )
    return NodesView(
        version=version,
        computed_at=now,
        nodes=rank(nodes, now),
        rejected_by_reason=dict(sorted(totals.items())),
        rejected_unattributed=unattributed,
    )


def problems(n: NodeView, now: float) -> list[str]:
    """What the IT team should look at, in the order of PROBLEMS."""
    found = set()
    if n.status == "offline":
        found.add("offline")
    elif n.last_seen is None or now - n.last_seen > SILENT_AFTER_SECONDS:
        found.add("silent")
    if n.clock_synced is False:
        found.add("clock_not_synced")
    if n.seq_gaps > 0:
        found.add("seq_gaps")
    if n.rejected > 0:
        found.add("rejected")
    return [p for p in PROBLEMS if p in found]


def rank(nodes: list[NodeView], now: float) -> list[NodeView]:
    """Problems recomputed at `now` (silence grows without new data), problem nodes first."""
    fresh = [n.model_copy(update={"problems": problems(n, now)}) for n in nodes]
    return sorted(fresh, key=lambda n: (-len(n.problems), n.site, n.node))
