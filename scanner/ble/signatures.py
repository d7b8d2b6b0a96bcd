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
from typing import Any, Final

import yaml

from scanner.ble.sigcompile import SigContext, compile_match
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
    c = SigContext(path, "(file)")
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
        sc = SigContext(path, name if isinstance(name, str) else f"#{i + 1}")
        sig = _signature(raw, sc, categories)
        if any(s.name == sig.name for s in sigs):
            sc.fail("name", "duplicate signature name")
        sigs.append(sig)
    return SignatureTable(path, tuple(categories), frozenset(fallback), tuple(sigs))


def _is_name(v: Any) -> bool:
    return isinstance(v, str) and bool(_NAME_RE.match(v))


def _signature(raw: Any, c: SigContext, categories: list[str]) -> Signature:
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
        counted=counted, confidence=conf, match=compile_match(raw["match"], c), key=key,
        rolling_period_s=period, utc_slot=utc_slot, suppresses=frozenset(sup), source=raw["source"],
    )  # fmt: skip


def _rolling(v: Any, c: SigContext) -> tuple[int | None, bool]:
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


def _key(v: Any, c: SigContext) -> KeySpec:
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
