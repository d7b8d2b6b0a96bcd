"""Rows in and out of every backend: the flat `windows` row, and result rows to typed records.

The one place `ClusterTotals` is built from the cluster query's columns (queries.py), so a
change of the sums touches the SQL and `cluster_hours` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from aggregator.store.interface import ClusterHour, NodeHealth, NodeState, RejectRow, StoredWindow
from scanner.estimation.clusters import CaptureSums, ClusterTotals, captures_from_json
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


def cluster_hours(slot_rows: Iterable[Sequence[Any]]) -> list[ClusterHour]:
    """Fold the cluster query's rows (site, node, day, hour, then the per-slot sums of
    queries.CLUSTERS_SQL; the rollup gives one such row per cluster) into clusters.

    Backends return sums as int, float or Decimal (PostgreSQL's SUM of bigint); each field is
    converted to the type SQLite returns, so reports are identical from either store."""
    acc: dict[tuple[str, str, int, int], _Slots] = {}
    for r in slot_rows:
        key = (str(r[0]), str(r[1]), int(r[2]), int(r[3]))
        a = acc.get(key)
        if a is None:
            a = acc[key] = _Slots()
        for i in range(10):
            a.sums[i] += int(r[4 + i] or 0) if i != 4 else float(r[4 + i] or 0.0)
        a.slots.append((float(r[14] or 0), float(r[15] or 0.0)))
        a.head_sum += int(r[16] or 0)
        a.head_n += int(r[17] or 0)
        a.near_gate += int(r[18] or 0)
        if r[19]:
            for name, sums in captures_from_json(str(r[19])).items():
                a.capture[name] = a.capture.get(name, CaptureSums()) + sums
    return [
        ClusterHour(
            ClusterTotals(
                k[0], k[1], k[2], int(a.sums[0]), int(a.sums[1]), int(a.sums[2]), int(a.sums[3]),
                float(a.sums[4]), int(a.sums[5]), int(a.sums[6]), int(a.sums[7]),
                int(a.sums[8]), int(a.sums[9]), slots=tuple(a.slots),
                headcount=a.head_sum / a.head_n if a.head_n else None,
                near_gate=a.near_gate, capture=a.capture,
            ),
            k[3],
        )
        for k, a in sorted(acc.items())
    ]  # fmt: skip


class _Slots:
    __slots__ = ("capture", "head_n", "head_sum", "near_gate", "slots", "sums")

    def __init__(self) -> None:
        self.sums: list[float] = [0] * 10
        self.slots: list[tuple[float, float]] = []
        self.head_sum = 0
        self.head_n = 0
        self.near_gate = 0
        self.capture: dict[str, CaptureSums] = {}


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
