"""Compiling one signature's `match:` section: bounds, hex, UUIDs, payload tests (pure).

Every problem raises SignatureError naming the file, the signature and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn

from scanner.ble.adparse import short_uuid
from scanner.ble.overflow import overflow_bit, uuid_bytes
from scanner.ble.sigtypes import ByteTest, Match, PayloadTest, SignatureError

_MATCH_KEYS = {"manufacturer", "apple_tlv", "service_uuid", "service_data", "local_name",
               "overflow", "flags", "tx_power", "no_manufacturer", "uuid128", "appearance",
               "any_advert"}  # fmt: skip


_PAYLOAD_KEYS = {"length", "length_not", "prefix", "mask", "bytes", "charset"}


class SigContext:
    """Where a value comes from (file, signature), so every error can name it."""

    def __init__(self, path: str, sig: str) -> None:
        self.path, self.sig = path, sig

    def fail(self, key: str, problem: str) -> NoReturn:
        raise SignatureError(f"{self.path}: signature {self.sig!r}: key {key!r}: {problem}")

    def unknown(self, obj: Mapping[Any, Any], allowed: set[str], where: str) -> None:
        extra = sorted(str(k) for k in obj if k not in allowed)
        if extra:
            self.fail(
                f"{where}.{extra[0]}" if where else extra[0],
                f"unknown key; allowed: {sorted(allowed)}",
            )

    def integer(self, v: Any, key: str, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.fail(key, f"must be an integer in {lo}..{hi}, got {v!r}")
        return int(v)

    def hexbytes(self, v: Any, key: str) -> bytes:
        if not isinstance(v, str):
            self.fail(key, f"must be a quoted hex string, got {v!r}")
        try:
            return bytes.fromhex(v.replace(" ", "").replace(":", ""))
        except ValueError:
            self.fail(key, f"not hex: {v!r}")

    def uuid(self, v: Any, key: str) -> str:
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFFFFFF:
            return short_uuid(v)
        try:
            if not isinstance(v, str):
                raise ValueError
            b = uuid_bytes(v)
        except ValueError:
            self.fail(key, f"not a UUID (16/32-bit hex or 128-bit): {v!r}")
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _payload(v: Any, c: SigContext, where: str) -> PayloadTest:
    c.unknown(v, _PAYLOAD_KEYS | {"company", "type", "uuid"}, where)
    lengths, lo, hi = None, 0, None
    ln = v.get("length")
    if isinstance(ln, Mapping):
        c.unknown(ln, {"min", "max"}, f"{where}.length")
        lo = c.integer(ln.get("min", 0), f"{where}.length.min", 0, 255)
        hi = c.integer(ln["max"], f"{where}.length.max", lo, 255) if "max" in ln else None
    elif ln is not None:
        items = ln if isinstance(ln, list) else [ln]
        lengths = frozenset(c.integer(n, f"{where}.length", 0, 255) for n in items)
    nl = v.get("length_not", [])
    nl = nl if isinstance(nl, list) else [nl]
    not_lengths = frozenset(c.integer(n, f"{where}.length_not", 0, 255) for n in nl)
    prefix = c.hexbytes(v["prefix"], f"{where}.prefix") if "prefix" in v else b""
    mask = c.hexbytes(v["mask"], f"{where}.mask") if "mask" in v else None
    if mask is not None and len(mask) != len(prefix):
        c.fail(f"{where}.mask", "must be as long as 'prefix'")
    tests = v.get("bytes", [])
    if not isinstance(tests, list):
        c.fail(f"{where}.bytes", "must be a list of {offset, mask, in}")
    btests = []
    for t in tests:
        if not isinstance(t, Mapping):
            c.fail(f"{where}.bytes", "must be a list of {offset, mask, in}")
        c.unknown(t, {"offset", "mask", "in"}, f"{where}.bytes")
        vals = t.get("in")
        if not isinstance(vals, list) or not vals:
            c.fail(f"{where}.bytes.in", "must be a non-empty list of byte values")
        btests.append(ByteTest(
            c.integer(t.get("offset"), f"{where}.bytes.offset", 0, 250),
            c.integer(t.get("mask", 0xFF), f"{where}.bytes.mask", 1, 0xFF),
            frozenset(c.integer(x, f"{where}.bytes.in", 0, 0xFF) for x in vals),
        ))  # fmt: skip
    charset = v.get("charset")
    if charset not in (None, "alnum"):
        c.fail(f"{where}.charset", "only 'alnum' ([0-9A-Za-z]) is supported")
    return PayloadTest(
        lengths, lo, hi, not_lengths, prefix, mask, tuple(btests), charset == "alnum"
    )


def compile_match(v: Any, c: SigContext) -> Match:
    if not isinstance(v, Mapping) or not v:
        c.fail("match", "must be a non-empty mapping of conditions")
    c.unknown(v, _MATCH_KEYS, "match")
    kw: dict[str, Any] = {}
    if "manufacturer" in v:
        m = mapping(v["manufacturer"], c, "match.manufacturer")
        company = c.integer(m.get("company"), "match.manufacturer.company", 0, 0xFFFF)
        kw["manufacturer"] = (company, _payload(m, c, "match.manufacturer"))
    if "apple_tlv" in v:
        m = mapping(v["apple_tlv"], c, "match.apple_tlv")
        tlv_type = c.integer(m.get("type"), "match.apple_tlv.type", 0x02, 0xFF)
        kw["apple_tlv"] = (tlv_type, _payload(m, c, "match.apple_tlv"))
    if "service_uuid" in v:
        kw["service_uuid"] = c.uuid(v["service_uuid"], "match.service_uuid")
    if "service_data" in v:
        m = mapping(v["service_data"], c, "match.service_data")
        u = c.uuid(m.get("uuid"), "match.service_data.uuid")
        kw["service_data"] = (u, _payload(m, c, "match.service_data"))
    if "local_name" in v:
        try:
            kw["local_name"] = re.compile(str(v["local_name"]))
        except re.error as exc:
            c.fail("match.local_name", f"bad regular expression: {exc}")
    if "overflow" in v:
        m = mapping(v["overflow"], c, "match.overflow")
        c.unknown(m, {"uuid", "report_exclusive"}, "match.overflow")
        u = c.uuid(m.get("uuid"), "match.overflow.uuid")
        kw["overflow"] = (u, *overflow_bit(u))
        kw["report_exclusive"] = bool(m.get("report_exclusive", False))
    if "flags" in v:
        items = v["flags"] if isinstance(v["flags"], list) else [v["flags"]]
        kw["flags"] = frozenset(c.integer(x, "match.flags", 0, 0xFF) for x in items)
    for flag in ("tx_power", "no_manufacturer", "uuid128", "any_advert"):
        if flag in v:
            if not isinstance(v[flag], bool):
                c.fail(f"match.{flag}", "must be true or false")
            kw[flag] = v[flag]
    if "appearance" in v:
        m = mapping(v["appearance"], c, "match.appearance")
        c.unknown(m, {"min", "max"}, "match.appearance")
        lo = c.integer(m.get("min"), "match.appearance.min", 0, 0xFFFF)
        kw["appearance"] = (lo, c.integer(m.get("max"), "match.appearance.max", lo, 0xFFFF))
    return Match(**kw)


def mapping(v: Any, c: SigContext, key: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        c.fail(key, "must be a mapping")
    return v
