"""Rows in and out of every backend: the flat `windows` row, and result rows to typed records.

The one place `ClusterTotals` is built from the cluster query's columns (queries.py), so a
change of the sums touches the SQL and this function only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from aggregator.store.interface import ClusterHour, NodeHealth, NodeState, RejectRow, StoredWindow
from scanner.estimation.estimate import ClusterTotals
from scanner.wire.codec import to_dict
from scanner.wire.schema import WindowReport

WINDOW_COLUMNS: Final = (
    "node", "site", "window_start", "window_s", "seq", "received_at", "bz_android", "bz_ios_fg",
    "bz_ios_bg", "bz_slot_android", "iphone", "phone", "other", "headcount", "scanned_s",
    "adverts", "clock_synced", "mode", "restarts", "below_gate", "payload",
)  # fmt: skip
NODE_STATE_SQL: Final = (
    "SELECT n.node, n.site, n.first_seen, n.last_seen, n.status, n.status_at, n.last_seq, "
    "n.windows, n.seq_gaps, n.duplicates, "
    "(SELECT COUNT(*) FROM rejected r WHERE r.topic LIKE 'bzaudit/v1/%/' || n.node || '/%')"
    " FROM nodes n ORDER BY n.site, n.node"
)
REJECT_ROWS_SQL: Final = (
    "SELECT id, received_at, topic, reason, detail, payload_head FROM rejected ORDER BY id"
)
# The node's ack (interface.py): the highest h with every seq 0..h of the node committed, as
# a stored window or a rejection naming the seq; seq - (row number - 1) stays 0 along the
# gap-free prefix and grows past the first gap. The SQLite store keeps it in nodes.acked_seq.
CONTIGUOUS_SQL: Final = """
SELECT MAX(seq) FROM (
  SELECT seq, seq - ROW_NUMBER() OVER (ORDER BY seq) + 1 AS g FROM (
    SELECT seq FROM windows WHERE node = :node
    UNION SELECT seq FROM rejected_seqs WHERE node = :node) AS u
) AS s WHERE g = 0
"""
_HEAD_BYTES = 256


def payload_head(payload: bytes) -> str:
    """The first bytes of a rejected payload: text when it decodes, else hex (with a marker)."""
    head = payload[:_HEAD_BYTES]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + head.hex()
    return text if text.isprintable() else "hex:" + head.hex()


def window_row(
    report: WindowReport, received_at: float, payload: str | None = None
) -> tuple[Any, ...]:
    """The flat row in WINDOW_COLUMNS order."""
    h = report.health
    bz = report.counts.get("bluezone", {})
    return (
        report.node, report.site, report.window_start, report.window_s, report.seq, received_at,
        bz.get("android", 0), bz.get("ios_fg", 0), bz.get("ios_bg", 0),
        report.slot_counts.get("bluezone", {}).get("android", 0),
        report.count("iphone"), report.count("phone"), report.count("other"),
        report.headcount, float(h.scanned_s), h.adverts,
        None if h.clock_synced is None else int(h.clock_synced), h.mode, h.restarts,
        h.below_gate,
        payload if payload is not None else json.dumps(
            to_dict(report), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
    )  # fmt: skip


def reject_row(x: Any) -> tuple[Any, ...]:
    """received_at, topic, reason, detail, payload_head of a `Reject`."""
    return (x.received_at, x.topic[:300], x.reason, x.detail[:300], payload_head(x.payload))


def cluster_hour(r: Sequence[Any]) -> ClusterHour:
    """A cluster query row (site, node, day, hour, then the sums in ClusterTotals order).

    Backends return sums as int, float or Decimal (PostgreSQL's SUM of bigint); each field is
    converted to the type SQLite returns, so reports are identical from either store."""
    totals = ClusterTotals(
        r[0], r[1], int(r[2]), int(r[4]), int(r[5]), int(r[6]), int(r[7]), int(r[8]),
        int(r[9]), int(r[10]), int(r[11]), int(r[12]), int(r[13]),
        float(r[14]), float(r[15]), float(r[16]), None if r[17] is None else float(r[17]),
    )  # fmt: skip
    return ClusterHour(totals, int(r[3]))


def node_health(r: Sequence[Any]) -> NodeHealth:
    return NodeHealth(
        r[0], r[1], int(r[2]), int(r[3]), int(r[4]), None if r[5] is None else float(r[5]),
        int(r[6]), int(r[7]), int(r[8]), r[9],
    )  # fmt: skip


def node_state(r: Sequence[Any]) -> NodeState:
    return NodeState(
        r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else int(r[6]), int(r[7]),
        int(r[8]), int(r[9]), int(r[10]),
    )  # fmt: skip


def reject_rows(rows: Iterable[Sequence[Any]]) -> list[RejectRow]:
    return [RejectRow(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def stored_window(r: Sequence[Any]) -> StoredWindow:
    return StoredWindow(*r)


def iter_batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
