"""MQTT topics of the wire contract v1: `bzaudit/v1/<site>/<node>/<kind>`, and the ack payload."""

from __future__ import annotations

import json

from scanner.wire.schema import _ID_RE, TOPIC_ROOT, SchemaError


def window_topic(site: str, node: str) -> str:
    return f"{TOPIC_ROOT}/{site}/{node}/window"


def status_topic(site: str, node: str) -> str:
    return f"{TOPIC_ROOT}/{site}/{node}/status"


def parse_topic(topic: str) -> tuple[str, str, str]:
    """Split `bzaudit/v1/<site>/<node>/<kind>` into (site, node, kind)."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise SchemaError("bad_topic", topic[:200])
    site, node, kind = parts[2], parts[3], parts[4]
    if not _ID_RE.match(site) or not _ID_RE.match(node) or kind not in ("window", "status"):
        raise SchemaError("bad_topic", topic[:200])
    return site, node, kind


def ack_topic(site: str, node: str) -> str:
    """Retained, written only by the aggregator: the node's highest contiguous seq committed."""
    return f"{TOPIC_ROOT}/{site}/{node}/ack"


def encode_ack(node: str, seq: int) -> bytes:
    return b'{"node":"%s","seq":%d,"v":1}' % (node.encode(), seq)


def decode_ack(payload: bytes, node: str) -> int | None:
    """The seq of an ack for `node`, or None when the payload is not one (never raises)."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict) or obj.get("v") != 1 or obj.get("node") != node:
        return None
    seq = obj.get("seq")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0 else None
