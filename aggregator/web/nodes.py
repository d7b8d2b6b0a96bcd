"""The Nodes page's values: the `bzagg nodes` table plus rejects by reason and clock state."""

from __future__ import annotations

from typing import Any, Final, Protocol

from aggregator.sites import Registry
from aggregator.store.health import last_clock, rejects_by_topic
from aggregator.web.models import NodesView, NodeView
from scanner.wire.schema import SchemaError
from scanner.wire.topics import parse_topic

# A node whose retained status says online but that has stored nothing for this long is
# silent: its windows are not arriving (ten 60 s windows).
SILENT_AFTER_SECONDS: Final = 600.0
PROBLEMS: Final = ("offline", "silent", "clock_not_synced", "seq_gaps", "rejected")


class NodeStore(Protocol):
    def query(self, sql: str, params: Any = ...) -> list[tuple[Any, ...]]: ...

    def node_rows(self) -> list[tuple[Any, ...]]: ...


def build_nodes(store: NodeStore, registry: Registry, *, version: int, now: float) -> NodesView:
    """Every node the store knows, with the problems found at `now`, problem nodes first."""
    by_node: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    unattributed = 0
    for topic, reason, n, _at in rejects_by_topic(store):
        totals[reason] = totals.get(reason, 0) + n
        try:
            _site, node, _kind = parse_topic(topic)
        except SchemaError:
            unattributed += n
            continue
        per = by_node.setdefault(node, {})
        per[reason] = per.get(reason, 0) + n
    clocks = last_clock(store)
    nodes = []
    for (
        node,
        site,
        first,
        last,
        status,
        status_at,
        last_seq,
        windows,
        gaps,
        dups,
        rejected,
    ) in store.node_rows():
        name = registry.attrs(site)[0]
        synced, window_end = clocks.get(node, (None, None))
        nodes.append(
            NodeView(
                node=node,
                site=site,
                site_name=name,
                status=status or "unknown",
                status_at=status_at,
                first_seen=first,
                last_seen=last,
                last_window_end=window_end,
                last_seq=last_seq,
                windows=int(windows or 0),
                seq_gaps=int(gaps or 0),
                duplicates=int(dups or 0),
                rejected=int(rejected or 0),
                rejected_by_reason=dict(sorted(by_node.get(node, {}).items())),
                clock_synced=synced,
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
