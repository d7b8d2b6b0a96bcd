"""Node bookkeeping shared by every backend: last seq, seq gaps, windows and duplicates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.wire.schema import WindowReport


def node_updates(
    fresh: Sequence[WindowReport],
    seen: Sequence[WindowReport],
    known: Mapping[str, tuple[int | None, int]],
    now: float,
) -> list[tuple[Any, ...]]:
    """One row per node of the batch: (node, site, first_seen, last_seen, last_seq, new windows,
    seq_gaps, duplicates), from the stored (last_seq, seq_gaps) in `known` and the batch."""
    sites: dict[str, str] = {}
    seen_n: dict[str, int] = {}
    for r in seen:
        sites[r.node] = r.site
        seen_n[r.node] = seen_n.get(r.node, 0) + 1
    new_by_node: dict[str, list[int]] = {}
    for r in fresh:
        new_by_node.setdefault(r.node, []).append(r.seq)
    params = []
    for node, site in sites.items():
        last_seq, gaps = known.get(node, (None, 0))
        new = sorted(new_by_node.get(node, ()))
        for seq in new:
            # A gap: seqs the node assigned that never arrived (yet); a late arrival below
            # last_seq fills one back in.
            if last_seq is None:
                last_seq = seq
            elif seq > last_seq:
                gaps += seq - last_seq - 1
                last_seq = seq
            elif gaps > 0:
                gaps -= 1
        params.append((node, site, now, now, last_seq, len(new), gaps, seen_n[node] - len(new)))
    return params
