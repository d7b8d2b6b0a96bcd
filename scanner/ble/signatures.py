"""Signatures as data: load and validate signatures.yaml into match tables (pure but for the YAML).

The YAML names what to match (company ids, UUIDs, Apple TLV types, overflow-area UUIDs); this
module checks every key and compiles it (overflow UUID -> bitmask byte/bit, UUIDs -> canonical
strings), so a new app version is a config change (docs/architecture.md §4). Any error names the
file, the
signature and the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final, NoReturn

import yaml

from scanner.ble.adparse import short_uuid
from scanner.ble.overflow import overflow_bit, uuid_bytes
from scanner.ble.sigtypes import (
    ByteTest,
    KeySpec,
    Match,
    PayloadTest,
    Signature,
    SignatureError,
    SignatureTable,
)

__all__ = [
    "DEFAULT_PATH", "ByteTest", "KeySpec", "Match", "PayloadTest", "Signature", "SignatureError",
    "SignatureTable", "compile_table", "load_signatures",
]  # fmt: skip

DEFAULT_PATH: Final = Path(str(resources.files("scanner.ble") / "signatures.yaml"))
APPLE: Final = 0x004C
KEY_SOURCES: Final = ("address", "manufacturer", "service_data", "bluezone_v1_name")
_TOP_KEYS = {"version", "categories", "signatures"}
_SIG_KEYS = {"name", "rule", "category", "stratum", "counted", "confidence", "match", "key",
             "rolling", "suppresses", "source", "notes"}  # fmt: skip
_MATCH_KEYS = {"manufacturer", "apple_tlv", "service_uuid", "service_data", "local_name",
               "overflow", "flags", "tx_power", "no_manufacturer", "uuid128", "appearance",
               "any_advert"}  # fmt: skip
_PAYLOAD_KEYS = {"length", "length_not", "prefix", "mask", "bytes", "charset"}
_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")


def load_signatures(path: str | Path | None = None) -> SignatureTable:
    """Load and validate a signature file; None = the packaged default."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{p}: cannot read: {exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SignatureError(f"{p}: not valid YAML: {exc}") from exc
    return compile_table(doc, str(p))


def compile_table(doc: Any, path: str = "<memory>") -> SignatureTable:
    """Validate a parsed YAML document into a SignatureTable."""
    c = _Ctx(path, "(file)")
    if not isinstance(doc, Mapping):
        c.fail("(top level)", "must be a mapping with 'version', 'categories', 'signatures'")
    c.unknown(doc, _TOP_KEYS, "(top level)")
    if doc.get("version") != 1:
        c.fail("version", f"must be 1, got {doc.get('version')!r}")
    cats_raw = doc.get("categories")
    if not isinstance(cats_raw, list) or not cats_raw:
        c.fail("categories", "must be a non-empty list")
    categories: list[str] = []
    fallback: set[str] = set()
    for item in cats_raw:
        item = {"name": item} if isinstance(item, str) else item
        if not isinstance(item, Mapping) or not _is_name(item.get("name")):
            c.fail("categories", f"bad entry {item!r} (need a lowercase name)")
        c.unknown(item, {"name", "fallback"}, "categories")
        if item["name"] in categories:
            c.fail("categories", f"duplicate category {item['name']!r}")
        categories.append(item["name"])
        if item.get("fallback", False) is True:
            fallback.add(item["name"])
    sigs_raw = doc.get("signatures")
    if not isinstance(sigs_raw, list) or not sigs_raw:
        c.fail("signatures", "must be a non-empty list")
    sigs: list[Signature] = []
    for i, raw in enumerate(sigs_raw):
        name = raw.get("name") if isinstance(raw, Mapping) else None
        sc = _Ctx(path, name if isinstance(name, str) else f"#{i + 1}")
        sig = _signature(raw, sc, categories)
        if any(s.name == sig.name for s in sigs):
            sc.fail("name", "duplicate signature name")
        sigs.append(sig)
    return SignatureTable(path, tuple(categories), frozenset(fallback), tuple(sigs))


class _Ctx:
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


def _is_name(v: Any) -> bool:
    return isinstance(v, str) and bool(_NAME_RE.match(v))


def _signature(raw: Any, c: _Ctx, categories: list[str]) -> Signature:
    if not isinstance(raw, Mapping):
        c.fail("(signature)", "each signature must be a mapping")
    c.unknown(raw, _SIG_KEYS, "")
    for req in ("name", "category", "stratum", "match", "source"):
        if req not in raw:
            c.fail(req, "missing")
    if not _is_name(raw["name"]):
        c.fail("name", "must match [a-z0-9_]{1,32}")
    if raw["category"] not in categories:
        c.fail("category", f"{raw['category']!r} is not one of {categories}")
    if not _is_name(raw["stratum"]):
        c.fail("stratum", "must match [a-z0-9_]{1,32}")
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        c.fail("source", "must cite where the rule comes from (e.g. 'docs/protocol.md §6 R1')")
    counted = raw.get("counted", True)
    if not isinstance(counted, bool):
        c.fail("counted", "must be true or false")
    sup = raw.get("suppresses", [])
    if not isinstance(sup, list) or any(s not in categories for s in sup):
        c.fail("suppresses", f"must be a list of categories from {categories}")
    rule = raw.get("rule", raw["name"])
    if not isinstance(rule, str) or not rule:
        c.fail("rule", "must be a non-empty string")
    conf = raw.get("confidence", "medium")
    if conf not in ("high", "medium", "low", "probabilistic"):
        c.fail("confidence", "must be high, medium, low or probabilistic")
    period, utc_slot = _rolling(raw.get("rolling"), c)
    key = _key(raw.get("key", "address"), c)
    if period is not None and key.source == "address":
        c.fail("rolling", "a rolling identifier needs 'key' to name the field that holds it")
    return Signature(
        name=raw["name"], rule=rule, category=raw["category"], stratum=raw["stratum"],
        counted=counted, confidence=conf, match=_match(raw["match"], c), key=key,
        rolling_period_s=period, utc_slot=utc_slot, suppresses=frozenset(sup), source=raw["source"],
    )  # fmt: skip


def _rolling(v: Any, c: _Ctx) -> tuple[int | None, bool]:
    if v is None:
        return None, False
    if not isinstance(v, Mapping):
        c.fail("rolling", "must be a mapping {period_s, utc_slot}")
    c.unknown(v, {"period_s", "utc_slot"}, "rolling")
    period = c.integer(v.get("period_s"), "rolling.period_s", 1, 86_400)
    slot = v.get("utc_slot", False)
    if not isinstance(slot, bool) or (slot and 900 % period and period != 900):
        c.fail(
            "rolling.utc_slot", "must be a boolean; true only for IDs aligned to UTC quarter hours"
        )
    return period, slot


def _key(v: Any, c: _Ctx) -> KeySpec:
    if v == "address":
        return KeySpec()
    if not isinstance(v, Mapping):
        c.fail("key", "must be 'address' or a mapping with 'from'")
    c.unknown(v, {"from", "company", "uuid", "offset", "length"}, "key")
    src = v.get("from")
    if src not in KEY_SOURCES:
        c.fail("key.from", f"must be one of {list(KEY_SOURCES)}")
    company = c.integer(v["company"], "key.company", 0, 0xFFFF) if src == "manufacturer" else None
    uuid = c.uuid(v.get("uuid"), "key.uuid") if src == "service_data" else None
    offset = c.integer(v.get("offset", 0), "key.offset", 0, 250)
    length = c.integer(v["length"], "key.length", 1, 32) if "length" in v else None
    if src in ("manufacturer", "service_data") and length is None:
        c.fail("key.length", "needed for a key taken from a payload")
    return KeySpec(src, company, uuid, offset, length)


def _payload(v: Any, c: _Ctx, where: str) -> PayloadTest:
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


def _match(v: Any, c: _Ctx) -> Match:
    if not isinstance(v, Mapping) or not v:
        c.fail("match", "must be a non-empty mapping of conditions")
    c.unknown(v, _MATCH_KEYS, "match")
    kw: dict[str, Any] = {}
    if "manufacturer" in v:
        m = _mapping(v["manufacturer"], c, "match.manufacturer")
        company = c.integer(m.get("company"), "match.manufacturer.company", 0, 0xFFFF)
        kw["manufacturer"] = (company, _payload(m, c, "match.manufacturer"))
    if "apple_tlv" in v:
        m = _mapping(v["apple_tlv"], c, "match.apple_tlv")
        tlv_type = c.integer(m.get("type"), "match.apple_tlv.type", 0x02, 0xFF)
        kw["apple_tlv"] = (tlv_type, _payload(m, c, "match.apple_tlv"))
    if "service_uuid" in v:
        kw["service_uuid"] = c.uuid(v["service_uuid"], "match.service_uuid")
    if "service_data" in v:
        m = _mapping(v["service_data"], c, "match.service_data")
        u = c.uuid(m.get("uuid"), "match.service_data.uuid")
        kw["service_data"] = (u, _payload(m, c, "match.service_data"))
    if "local_name" in v:
        try:
            kw["local_name"] = re.compile(str(v["local_name"]))
        except re.error as exc:
            c.fail("match.local_name", f"bad regular expression: {exc}")
    if "overflow" in v:
        m = _mapping(v["overflow"], c, "match.overflow")
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
        m = _mapping(v["appearance"], c, "match.appearance")
        c.unknown(m, {"min", "max"}, "match.appearance")
        lo = c.integer(m.get("min"), "match.appearance.min", 0, 0xFFFF)
        kw["appearance"] = (lo, c.integer(m.get("max"), "match.appearance.max", lo, 0xFFFF))
    return Match(**kw)


def _mapping(v: Any, c: _Ctx, key: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        c.fail(key, "must be a mapping")
    return v
