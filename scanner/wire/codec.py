"""Canonical JSON for the wire contract v1: encode, strict decode, HMAC signatures (stdlib only)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.wire.schema import (
    MAX_PAYLOAD_BYTES,
    SCHEMA_VERSION,
    Health,
    SchemaError,
    WindowReport,
    iso_utc,
    parse_iso_utc,
    validate,
)


def to_dict(report: WindowReport) -> dict[str, Any]:
    h = report.health
    out: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "node": report.node,
        "site": report.site,
        "seq": report.seq,
        "window_start": iso_utc(report.window_start),
        "window_s": report.window_s,
        "counts": {c: dict(s) for c, s in report.counts.items()},
        "slot_counts": {c: dict(s) for c, s in report.slot_counts.items()},
        "health": {
            "scanned_s": round(float(h.scanned_s), 3),
            "adverts": h.adverts,
            "mode": h.mode,
            "adapter": h.adapter,
            "restarts": h.restarts,
            "clock_synced": h.clock_synced,
            "rssi_min_dbm": h.rssi_min_dbm,
            "below_gate": h.below_gate,
            "malformed": h.malformed,
            "outbox_dropped": h.outbox_dropped,
        },
        "software": report.software,
        "headcount": report.headcount,
    }
    # Added after v1 shipped: written only when they say something, so payloads of live nodes
    # (and the goldens) keep their bytes and older aggregators are not surprised.
    if h.crc_failed:
        out["health"]["crc_failed"] = h.crc_failed
    if not h.rssi_available:
        out["health"]["rssi_available"] = False
    return out


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The bytes the HMAC covers: sorted keys, no spaces, UTF-8, without the `sig` member."""
    body = {k: v for k, v in obj.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(obj: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical(obj), hashlib.sha256).hexdigest()


def encode(report: WindowReport, *, key: bytes | None = None) -> bytes:
    """Validate and serialise; with a per-node key the payload carries an HMAC-SHA256 `sig`."""
    validate(report)
    obj = to_dict(report)
    if key is not None:
        obj["sig"] = sign(obj, key)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(
    payload: bytes,
    *,
    now: float | None = None,
    key: bytes | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> WindowReport:
    """Parse and strictly validate one payload. Raises SchemaError with a stable `reason`."""
    if len(payload) > max_bytes:
        raise SchemaError("oversized", f"{len(payload)} bytes > {max_bytes}")
    try:
        obj = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SchemaError("bad_json", str(exc)[:120]) from exc
    if not isinstance(obj, dict):
        raise SchemaError("bad_json", "top level is not an object")
    if obj.get("v") != SCHEMA_VERSION:
        raise SchemaError("bad_version", repr(obj.get("v"))[:40])
    allowed = {
        "v", "node", "site", "seq", "window_start", "window_s", "counts",
        "slot_counts", "health", "software", "headcount", "sig",
    }  # fmt: skip
    extra = set(obj) - allowed
    if extra:
        raise SchemaError("unknown_field", ",".join(sorted(extra))[:80])
    if key is not None:
        sig = obj.get("sig")
        if not isinstance(sig, str) or not hmac.compare_digest(sig, sign(obj, key)):
            raise SchemaError("bad_signature")
    try:
        health = obj["health"]
        if not isinstance(health, dict):
            raise SchemaError("bad_health", "not an object")
        hextra = set(health) - set(Health.__slots__)
        if hextra:
            raise SchemaError("bad_health", ",".join(sorted(hextra))[:80])
        report = WindowReport(
            node=obj["node"],
            site=obj["site"],
            seq=obj["seq"],
            window_start=parse_iso_utc(obj["window_start"]),
            window_s=obj["window_s"],
            counts=obj["counts"],
            slot_counts=obj.get("slot_counts", {}),
            health=Health(**health),
            software=obj.get("software", ""),
            headcount=obj.get("headcount"),
        )
    except KeyError as exc:
        raise SchemaError("missing_field", str(exc)) from exc
    except TypeError as exc:
        raise SchemaError("bad_health", str(exc)[:120]) from exc
    return validate(report, now=now)


def with_seq(report: WindowReport, seq: int) -> WindowReport:
    return replace(report, seq=seq)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
