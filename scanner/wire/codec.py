"""Canonical JSON for the wire contract v1: encode, strict decode, HMAC signatures.

Decoding parses with orjson when it is installed (the aggregator decodes thousands of windows a
second) and falls back to the standard library, whose verdict is the contract (`decode`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from scanner.wire.schema import (
    MAX_PAYLOAD_BYTES,
    SCHEMA_VERSION,
    Health,
    SchemaError,
    SlotCapture,
    WindowReport,
    iso_utc,
    parse_iso_utc,
    validate,
)


def _orjson() -> Callable[[bytes], Any] | None:
    try:
        import orjson
    except ImportError:  # platforms without an orjson wheel parse with the standard library
        return None
    loads: Callable[[bytes], Any] = orjson.loads
    return loads


fast_loads = _orjson()


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
    # Additive v1 fields: sent only when set, so older payloads and goldens are unchanged.
    if h.near_gate:
        out["health"]["near_gate"] = h.near_gate
    if report.capture:
        out["capture"] = {
            c: {s: _capture_dict(v) for s, v in strata.items()}
            for c, strata in report.capture.items()
        }
    return out


def _capture_dict(c: SlotCapture) -> dict[str, Any]:
    return {
        "windows": c.windows, "pairs1": c.pairs1, "pairs2": c.pairs2, "seen": list(c.seen),
        "lag1": c.lag1, "lag2": c.lag2, "run3": c.run3,
    }  # fmt: skip


def captures_from_obj(obj: object) -> dict[str, dict[str, SlotCapture]]:
    if not isinstance(obj, dict):
        raise SchemaError("bad_capture", "not an object")
    out: dict[str, dict[str, SlotCapture]] = {}
    for cat, strata in obj.items():
        if not isinstance(strata, dict):
            raise SchemaError("bad_capture", f"{cat!r}: not an object"[:80])
        for stratum, c in strata.items():
            if not isinstance(c, dict) or set(c) != _CAPTURE_KEYS:
                raise SchemaError("bad_capture", f"{cat}/{stratum}: fields"[:80])
            seen = c["seen"]
            if not isinstance(seen, list) or len(seen) > 64:
                raise SchemaError("bad_capture", f"{cat}/{stratum}: seen"[:80])
            out.setdefault(cat, {})[stratum] = SlotCapture(
                windows=c["windows"], pairs1=c["pairs1"], pairs2=c["pairs2"], seen=tuple(seen),
                lag1=c["lag1"], lag2=c["lag2"], run3=c["run3"],
            )  # fmt: skip
    return out


_CAPTURE_KEYS = frozenset({"windows", "pairs1", "pairs2", "seen", "lag1", "lag2", "run3"})


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
    if fast_loads is not None:
        # orjson parses a window ~3 µs faster, but reads integers beyond 64 bits as floats and
        # refuses what the standard library accepts (NaN before our own check, lone surrogates,
        # 1e400): so it only ever accepts. Whatever it cannot turn into a valid report is parsed
        # again by the standard library, whose verdict and reason stand. A report it accepts
        # holds no such value (every number in one is range-checked), so the two agree on it.
        try:
            return _report(fast_loads(payload), now, key)
        except Exception:  # decided below, by the standard library
            pass
    try:
        obj = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SchemaError("bad_json", str(exc)[:120]) from exc
    return _report(obj, now, key)


def _report(obj: Any, now: float | None, key: bytes | None) -> WindowReport:
    if not isinstance(obj, dict):
        raise SchemaError("bad_json", "top level is not an object")
    if obj.get("v") != SCHEMA_VERSION:
        raise SchemaError("bad_version", repr(obj.get("v"))[:40])
    extra = obj.keys() - _FIELDS
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
        hextra = health.keys() - _HEALTH_FIELDS
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
            capture=captures_from_obj(obj.get("capture", {})),
        )
    except KeyError as exc:
        raise SchemaError("missing_field", str(exc)) from exc
    except TypeError as exc:
        raise SchemaError("bad_health", str(exc)[:120]) from exc
    return validate(report, now=now)


_FIELDS: Final = frozenset({
    "v", "node", "site", "seq", "window_start", "window_s", "counts",
    "slot_counts", "health", "software", "headcount", "sig", "capture",
})  # fmt: skip
_HEALTH_FIELDS: Final = frozenset(Health.__slots__)


def with_seq(report: WindowReport, seq: int) -> WindowReport:
    return replace(report, seq=seq)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")
