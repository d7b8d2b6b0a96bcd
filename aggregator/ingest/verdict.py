"""What the aggregator subscribes to, what one incoming message becomes (its verdict), and one
transaction per batch (no MQTT here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aggregator.store.interface import AddResult, Reject, WindowStore
from scanner.wire.codec import decode
from scanner.wire.schema import MAX_PAYLOAD_BYTES, TOPIC_ROOT, SchemaError, WindowReport
from scanner.wire.topics import parse_topic

TOPICS = (f"{TOPIC_ROOT}/+/+/window", f"{TOPIC_ROOT}/+/+/status")


def topics(share_group: str | None) -> tuple[str, ...]:
    """The subscriptions. With a share group, windows come through the MQTT shared
    subscription `$share/<group>/...` (MQTT 5 §4.8.2, Mosquitto >= 2.0), so each window goes to
    one aggregator of the group; statuses stay a plain subscription, because retained messages
    are not sent to shared subscriptions: every aggregator sees every status and the store
    keeps the latest (last writer wins on the time received)."""
    if share_group is None:
        return TOPICS
    return (f"$share/{share_group}/{TOPICS[0]}", TOPICS[1])


STATUS_VALUES = frozenset({"online", "offline"})


@dataclass(slots=True)
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    batches: int = 0
    store_failures: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one message becomes: a window, a status change or a rejection."""

    window: WindowReport | None = None
    status: tuple[str, str, str] | None = None
    reject: tuple[str, str] | None = None


def judge(
    topic: str,
    payload: bytes,
    *,
    now: float,
    keys: Mapping[str, bytes] | None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> Verdict:
    """Validate one message against the wire contract; never raises on bad input."""
    try:
        site, node, kind = parse_topic(topic)
        if kind == "status":
            text = payload.decode("utf-8", "replace").strip()
            if text not in STATUS_VALUES:
                raise SchemaError("bad_status", text[:40])
            return Verdict(status=(site, node, text))
        key = None
        if keys is not None:
            key = keys.get(node)
            if key is None:
                raise SchemaError("unknown_node", f"no signing key for node {node!r}")
        report = decode(payload, now=now, key=key, max_bytes=max_bytes)
        if report.node != node or report.site != site:
            raise SchemaError(
                "topic_mismatch", f"payload {report.site}/{report.node} on topic {site}/{node}"
            )
        return Verdict(window=report)
    except SchemaError as exc:
        return Verdict(reject=(exc.reason, exc.detail))
    except Exception as exc:  # bad input must never stop ingestion
        return Verdict(reject=("internal", f"{type(exc).__name__}: {exc}"[:200]))


def ingest_batch(
    store: WindowStore,
    messages: list[tuple[str, bytes]],
    *,
    now: float,
    keys: Mapping[str, bytes] | None,
    stats: IngestStats,
) -> AddResult:
    """Judge and commit a batch in one transaction (raises only if the store fails)."""
    windows: list[WindowReport] = []
    texts: list[str] = []
    rejects: list[Reject] = []
    statuses: list[tuple[str, str, str, float]] = []
    for topic, payload in messages:
        v = judge(topic, payload, now=now, keys=keys)
        if v.window is not None:
            windows.append(v.window)
            texts.append(payload.decode("utf-8"))  # decode() accepted it, so it is UTF-8
        elif v.status is not None:
            statuses.append((*v.status, now))
        elif v.reject is not None:
            rejects.append(Reject(topic, v.reject[0], v.reject[1], payload, now))
            stats.reasons[v.reject[0]] = stats.reasons.get(v.reject[0], 0) + 1
    result = store.add_windows(windows, rejects, statuses, texts)
    stats.received += len(messages)
    stats.stored += result.stored
    stats.duplicates += result.duplicates
    stats.rejected += len(rejects) + result.conflicts
    stats.conflicts += result.conflicts
    if result.conflicts:
        stats.reasons["conflict"] = stats.reasons.get("conflict", 0) + result.conflicts
    stats.batches += 1
    return result
