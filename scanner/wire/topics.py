"""MQTT topics of the wire contract v1: `bzaudit/v1/<site>/<node>/<kind>`."""

from __future__ import annotations

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
