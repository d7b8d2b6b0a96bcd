"""Advert -> the sightings it yields (category, stratum, de-dup key), per signatures.yaml (pure).

Rules R1-R12 of docs/protocol.md §6 live in the signature file; this module evaluates them. Two
entry points share one matcher: `classify` for already-parsed adverts (bleak's AdvertisementData,
scanner.ble.advert.Advert) and `classify_raw` for AD bytes (replay, simulator), the hot path, which
caches the address-independent result per distinct payload. Nothing here raises on radio data, and
nothing logs keys or addresses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Final

from scanner.ble.adparse import parse_ad
from scanner.ble.advert import AdvertLike
from scanner.ble.matching import Template, anchor, matches, template
from scanner.ble.matchview import (
    AdvertParts,
    MatchView,
    advert_parts,
    view_from_fields,
    view_from_parts,
)
from scanner.ble.passive import PassivePlan, passive_plan
from scanner.ble.signatures import Signature, SignatureTable, load_signatures

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
_Template = Template


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
            self._anchors.setdefault(anchor(sig), []).append(i)
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
        matched = [self._sigs[i] for i in sorted(candidates) if matches(self._sigs[i], v)]
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
                out.append(template(chosen, v))
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
