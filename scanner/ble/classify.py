"""Advert -> the sightings it yields (category, stratum, de-dup key), per signatures.yaml (pure).

Rules R1-R12 of docs/protocol.md §6 live in the signature file; this module evaluates them. Two
entry
points share one matcher: `classify` for already-parsed adverts (bleak's AdvertisementData,
scanner.ble.advert.Advert) and `classify_raw` for AD bytes (replay, simulator), the hot path, which
caches the address-independent result per distinct payload. Nothing here raises on radio data, and
nothing logs keys or addresses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

from scanner.ble.adparse import BASE_UUID_SUFFIX, parse_ad
from scanner.ble.advert import AdvertLike
from scanner.ble.bluezone_id import decode_v1_name
from scanner.ble.matchview import (
    AdvertParts,
    MatchView,
    advert_parts,
    view_from_fields,
    view_from_parts,
)
from scanner.ble.passive import PassivePlan, passive_plan
from scanner.ble.signatures import PayloadTest, Signature, SignatureTable, load_signatures

log = logging.getLogger(__name__)

_CACHE_MAX: Final = 65_536  # distinct payloads (and payload+address pairs) kept; cleared when full
__all__ = ["Classifier", "PassivePlan", "Sighting", "category_of"]


@dataclass(frozen=True, slots=True)
class Sighting:
    """One (category, stratum, key) an advert yields; `key` never leaves scanner memory."""

    category: str  # "bluezone" | "iphone" | "phone" | "other" (from signatures.yaml)
    stratum: str  # e.g. bluezone: android | android_v1 | android_unknown | ios_fg | ios_bg
    key: bytes = field(repr=False)  # rolling ID / BLID / RPI, else the 6 address bytes
    rolling: bool  # key valid for one UTC quarter-hour slot (count per slot too)
    rule: str  # "R1".."R12" or a signature's rule tag, for diagnostics
    counted: bool = True  # False for corroboration only (R8)


# A template is a Sighting without its address: key None means "use the address".
_Template = tuple[str, str, bytes | None, bool, str, bool]


def category_of(sightings: tuple[Sighting, ...], precedence: tuple[str, ...]) -> str | None:
    """The single category of a device: the highest-precedence counted category (None if none)."""
    cats = {s.category for s in sightings if s.counted}
    return next((c for c in precedence if c in cats), None)


class Classifier:
    """Evaluates a SignatureTable against adverts; see signatures.yaml for the semantics."""

    def __init__(
        self, table: SignatureTable | None = None, *, cache_size: int = _CACHE_MAX
    ) -> None:
        self.table = table if table is not None else load_signatures()
        self._cache_max = max(1, cache_size)
        self._sigs = self.table.signatures
        self._anchors: dict[tuple[object, ...], list[int]] = {}
        for i, sig in enumerate(self._sigs):
            self._anchors.setdefault(_anchor(sig), []).append(i)
        self._payload_cache: dict[tuple[bytes, bytes | None], tuple[_Template, ...]] = {}
        self._result_cache: dict[tuple[bytes, bytes | None, str], tuple[Sighting, ...]] = {}
        self._fixed_cache: dict[tuple[bytes, bytes | None], tuple[Sighting, ...]] = {}
        self._parts_cache: dict[AdvertParts, tuple[_Template, ...]] = {}

    def forget(self) -> None:
        """Drop every cached payload and address (call at window close: docs/architecture.md §5
        privacy).
        """
        self._fixed_cache.clear()
        self._payload_cache.clear()
        self._result_cache.clear()
        self._parts_cache.clear()

    def cache_sizes(self) -> tuple[int, ...]:
        """Entries held per cache (payload results, templates, payload+address, parsed adverts)."""
        caches = (self._fixed_cache, self._payload_cache, self._result_cache, self._parts_cache)
        return tuple(len(c) for c in caches)

    def strata(self) -> tuple[tuple[str, str], ...]:
        """Every counted (category, stratum) the table can emit, for zero counts."""
        return self.table.strata()

    def passive_patterns(self) -> PassivePlan:
        """BlueZ advertisement-monitor or-patterns for the table, and what they cannot express."""
        return passive_plan(self.table)

    def classify(self, adv: AdvertLike, address: str) -> tuple[Sighting, ...]:
        """Sightings of an already-parsed advert (bleak AdvertisementData or Advert)."""
        parts = advert_parts(adv)
        if parts is None:
            return ()
        templates = self._parts_cache.get(parts)
        if templates is None:
            templates = self._evaluate(view_from_parts(parts))
            if len(self._parts_cache) >= self._cache_max:
                self._parts_cache.clear()
            self._parts_cache[parts] = templates
        return self._attach(templates, address)

    def classify_raw(
        self, adv: bytes, scan_rsp: bytes | None, address: str
    ) -> tuple[Sighting, ...]:
        """Sightings of raw AD bytes (advert + optional scan response); the replay hot path."""
        ck = (adv, scan_rsp)
        try:
            fixed = self._fixed_cache.get(ck)
        except TypeError:  # bytearray/memoryview are unhashable: retry once as bytes
            return self._classify_unhashable(adv, scan_rsp, address)
        if fixed is not None:
            return fixed
        rk = (adv, scan_rsp, address)
        done = self._result_cache.get(rk)
        if done is not None:
            return done
        templates = self._payload_cache.get(ck)
        if templates is None:
            templates = self._templates(adv, scan_rsp)
            if all(t[2] is not None for t in templates):
                # Address-independent (rolling IDs, RPIs, nothing at all): one answer per payload.
                fixed = self._attach(templates, "")
                if len(self._fixed_cache) >= self._cache_max:
                    self._fixed_cache.clear()
                self._fixed_cache[ck] = fixed
                return fixed
            if len(self._payload_cache) >= self._cache_max:
                self._payload_cache.clear()
            self._payload_cache[ck] = templates
        done = self._attach(templates, address)
        if len(self._result_cache) >= self._cache_max:
            self._result_cache.clear()
        self._result_cache[rk] = done
        return done

    def _classify_unhashable(
        self, adv: object, scan_rsp: object, address: str
    ) -> tuple[Sighting, ...]:
        try:
            a = bytes(adv)  # type: ignore[call-overload]
            r = None if scan_rsp is None else bytes(scan_rsp)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return ()
        return self.classify_raw(a, r, address)

    def _templates(self, adv: bytes, scan_rsp: bytes | None) -> tuple[_Template, ...]:
        try:
            view = view_from_fields(parse_ad(bytes(adv), bytes(scan_rsp) if scan_rsp else None))
        except (TypeError, ValueError):  # not bytes-like at all: nothing to count
            return ()
        return self._evaluate(view)

    def _evaluate(self, v: MatchView) -> tuple[_Template, ...]:
        candidates: set[int] = set()
        for a in v.anchors:
            hits = self._anchors.get(a)
            if hits:
                candidates.update(hits)
        matched = [self._sigs[i] for i in sorted(candidates) if _matches(self._sigs[i], v)]
        suppressed: set[str] = set()
        for sig in matched:
            suppressed |= sig.suppresses
        counted: dict[str, Signature] = {}
        uncounted: dict[str, Signature] = {}
        for sig in matched:
            if sig.category in suppressed:
                continue
            target = counted if sig.counted else uncounted
            target.setdefault(sig.category, sig)
        fallback = self.table.fallback
        if any(c not in fallback for c in counted):
            for c in fallback:
                counted.pop(c, None)
        out = []
        for cat in self.table.categories:
            chosen = counted.get(cat) or uncounted.get(cat)
            if chosen is not None:
                out.append(_template(chosen, v))
        return tuple(out)

    @staticmethod
    def _attach(templates: tuple[_Template, ...], address: str) -> tuple[Sighting, ...]:
        if not templates:
            return ()
        addr_key: bytes | None = None
        out = []
        for cat, stratum, key, rolling, rule, counted in templates:
            if key is None:
                if addr_key is None:
                    addr_key = _address_key(address)
                key = addr_key
            out.append(Sighting(cat, stratum, key, rolling, rule, counted))
        return tuple(out)


def _address_key(address: str) -> bytes:
    # "AA:BB:CC:DD:EE:FF" -> 6 bytes; anything else (platform UUIDs on macOS) -> its UTF-8 bytes.
    try:
        if len(address) == 17:
            return bytes.fromhex(address.replace(":", ""))
    except (ValueError, TypeError):
        pass
    return str(address).encode("utf-8", "replace")


def _anchor(sig: Signature) -> tuple[object, ...]:
    # The cheapest condition that must hold, used to find candidate signatures for an advert.
    m = sig.match
    if m.manufacturer is not None:
        return ("m", m.manufacturer[0])
    if m.apple_tlv is not None:
        return ("t", m.apple_tlv[0])
    if m.service_data is not None:
        return ("s", m.service_data[0])
    if m.service_uuid is not None:
        return ("u", m.service_uuid)
    if m.overflow is not None:
        return ("o",)
    if m.appearance is not None:
        return ("a",)
    if m.flags is not None:
        return ("f",)
    if m.local_name is not None:
        return ("n",)
    return ("*",)


def _payload_ok(p: bytes, t: PayloadTest) -> bool:
    n = len(p)
    if t.lengths is not None and n not in t.lengths:
        return False
    if n < t.min_length or (t.max_length is not None and n > t.max_length) or n in t.not_lengths:
        return False
    if t.prefix:
        if t.mask is None:
            if not p.startswith(t.prefix):
                return False
        elif n < len(t.prefix) or any(
            (p[i] ^ t.prefix[i]) & t.mask[i] for i in range(len(t.prefix))
        ):
            return False
    for b in t.bytes_tests:
        if b.offset >= n or (p[b.offset] & b.mask) not in b.values:
            return False
    return not t.alnum or (p.isascii() and p.isalnum())


def _matches(sig: Signature, v: MatchView) -> bool:
    m = sig.match
    if m.manufacturer is not None:
        company, test = m.manufacturer
        if not any(c == company and _payload_ok(p, test) for c, p in v.manufacturer):
            return False
    if m.apple_tlv is not None:
        tlv_type, test = m.apple_tlv
        if not any(t == tlv_type and _payload_ok(p, test) for t, p in v.apple_tlvs):
            return False
    if m.service_uuid is not None and m.service_uuid not in v.uuids:
        return False
    if m.service_data is not None:
        data = v.service_data.get(m.service_data[0])
        if data is None or not _payload_ok(data, m.service_data[1]):
            return False
    if m.local_name is not None and (v.name is None or not m.local_name.search(v.name)):
        return False
    if m.overflow is not None:
        mask = v.overflow
        if mask is None or not mask[m.overflow[1]] & m.overflow[2]:
            return False
    if m.flags is not None and v.flags not in m.flags:
        return False
    if m.tx_power is not None and (v.tx_power is not None) != m.tx_power:
        return False
    if m.no_manufacturer and v.manufacturer:
        return False
    if m.uuid128 and not any(not u.endswith(BASE_UUID_SUFFIX) for u in v.uuids):
        return False
    if m.appearance is not None:
        lo, hi = m.appearance
        if v.appearance is None or not lo <= v.appearance <= hi:
            return False
    return True


def _template(sig: Signature, v: MatchView) -> _Template:
    key = _key(sig, v)
    rule = sig.rule
    ov = sig.match.overflow
    if ov is not None and sig.match.report_exclusive and v.overflow is not None:
        rest = bytearray(v.overflow)
        rest[ov[1]] &= ~ov[2] & 0xFF
        if not any(rest):
            rule += "/exclusive"  # only this app's bit is set: the likeliest case of a real match
    rolling = sig.utc_slot and key is not None
    return (sig.category, sig.stratum, key, rolling, rule, sig.counted)


def _key(sig: Signature, v: MatchView) -> bytes | None:
    spec = sig.key
    if spec.source == "manufacturer":
        test = sig.match.manufacturer
        for c, p in v.manufacturer:
            if c == spec.company and (test is None or test[0] != c or _payload_ok(p, test[1])):
                return _slice(p, spec.offset, spec.length)
        return None
    if spec.source == "service_data" and spec.uuid is not None:
        data = v.service_data.get(spec.uuid)
        return None if data is None else _slice(data, spec.offset, spec.length)
    if spec.source == "bluezone_v1_name":
        blid = decode_v1_name(v.name)
        return None if blid is None else blid.encode("ascii")
    return None


def _slice(p: bytes, offset: int, length: int | None) -> bytes | None:
    end = len(p) if length is None else offset + length
    return bytes(p[offset:end]) if end <= len(p) else None
