"""BlueZ advertisement-monitor or-patterns for a signature table (pure; for passive scanning).

A BlueZ or-pattern `(start_position, ad_type, content)` matches when one AD structure of `ad_type`
has `content` at `start_position` of its data. Patterns here are supersets: the classifier re-checks
every advert the monitor lets through. Signatures a pattern cannot express at all (names, Flags,
appearance, "anything"), or that a passive scan may never see (the overflow area, which 2025 iOS
sends only in scan responses, docs/protocol.md §2.6), are listed in `unsupported` with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from scanner.ble.adparse import (
    MANUFACTURER,
    SERVICE_DATA16,
    SERVICE_DATA32,
    SERVICE_DATA128,
    UUID16_COMPLETE,
    UUID16_INCOMPLETE,
    UUID32_COMPLETE,
    UUID32_INCOMPLETE,
    UUID128_COMPLETE,
    UUID128_INCOMPLETE,
    uuid_to_le,
)
from scanner.ble.signatures import Signature, SignatureTable

Pattern = tuple[int, int, bytes]
_MAX_CONTENT = 31  # one legacy advert's data
_APPLE_LE = (0x004C).to_bytes(2, "little")


# What the denominator needs even if no signature names it (docs/protocol.md §4): Apple Continuity
# (iPhones, and the iOS overflow area of background Bluezone), GAEN 0xFD6F service data and UUID,
# Google Fast Pair 0xFE2C, Samsung 0x0075, Microsoft 0x0006. Content is compared at `start` inside
# the AD value (BlueZ src/shared/ad.c).
DENOMINATOR_PATTERNS: tuple[Pattern, ...] = (
    (0, MANUFACTURER, b"\x4c\x00"),
    (0, SERVICE_DATA16, b"\x6f\xfd"),
    (0, UUID16_COMPLETE, b"\x6f\xfd"),
    (0, SERVICE_DATA16, b"\x2c\xfe"),
    (0, MANUFACTURER, b"\x75\x00"),
    (0, MANUFACTURER, b"\x06\x00"),
)


@dataclass(frozen=True, slots=True)
class PassivePlan:
    """The or-patterns a passive scan registers, and the signatures it cannot see."""

    patterns: tuple[Pattern, ...]  # de-duplicated union, for one monitor's or_patterns
    by_signature: Mapping[str, tuple[Pattern, ...]] = field(default_factory=dict)
    unsupported: tuple[str, ...] = ()  # signature names a passive monitor cannot express or see
    reasons: Mapping[str, str] = field(
        default_factory=dict
    )  # why, for unsupported and partial ones

    @property
    def unseen(self) -> tuple[str, ...]:
        return self.unsupported

    def plus(self, extra: tuple[Pattern, ...]) -> PassivePlan:
        """The same plan with `extra` patterns added (e.g. DENOMINATOR_PATTERNS)."""
        return PassivePlan(
            _dedupe((*self.patterns, *extra)), self.by_signature, self.unsupported, self.reasons
        )

    def describe(self) -> str:
        if not self.unsupported:
            return f"passive mode: {len(self.patterns)} patterns; every signature is visible"
        return (
            f"passive mode: {len(self.patterns)} patterns; cannot see "
            f"{', '.join(self.unsupported)} (names and scan-response data need --mode active)"
        )


def _uuid_patterns(uuid: str) -> list[Pattern]:
    raw = uuid_to_le(uuid)
    types = {2: (UUID16_COMPLETE, UUID16_INCOMPLETE), 4: (UUID32_COMPLETE, UUID32_INCOMPLETE)}
    return [(0, t, raw) for t in types.get(len(raw), (UUID128_COMPLETE, UUID128_INCOMPLETE))]


def _sig_patterns(sig: Signature) -> tuple[list[Pattern], str | None, bool]:
    """(patterns, reason if partial/unsupported, supported)."""
    m = sig.match
    if m.overflow is not None:
        return (
            [(0, MANUFACTURER, _APPLE_LE + b"\x01")],
            ("overflow-area bit test; the area may come only in a scan response (active scan)"),
            False,
        )
    if m.manufacturer is not None:
        company, test = m.manufacturer
        content = company.to_bytes(2, "little") + (test.prefix if test.mask is None else b"")
        return [(0, MANUFACTURER, content[:_MAX_CONTENT])], None, True
    if m.apple_tlv is not None:
        tlv_type, test = m.apple_tlv
        content = _APPLE_LE
        if tlv_type == 0x02 and test.lengths is not None and len(test.lengths) == 1:
            # iBeacon is always the only TLV, so its type, length and prefix can be pinned.
            content += bytes((tlv_type, *test.lengths)) + (
                test.prefix if test.mask is None else b""
            )
        # Other TLVs may follow e.g. Handoff (0x0C), so only "Apple" can be pinned at position 0.
        return [(0, MANUFACTURER, content[:_MAX_CONTENT])], None, True
    if m.service_data is not None:
        uuid, test = m.service_data
        raw = uuid_to_le(uuid)
        t = {2: SERVICE_DATA16, 4: SERVICE_DATA32}.get(len(raw), SERVICE_DATA128)
        return [(0, t, (raw + test.prefix)[:_MAX_CONTENT])], None, True
    if m.service_uuid is not None:
        return _uuid_patterns(m.service_uuid), "matches only the first UUID of a list", True
    return [], "no AD content to anchor a pattern (name, Flags, appearance or catch-all)", False


def passive_plan(table: SignatureTable) -> PassivePlan:
    by_sig: dict[str, tuple[Pattern, ...]] = {}
    unsupported: list[str] = []
    reasons: dict[str, str] = {}
    for sig in table.signatures:
        pats, reason, ok = _sig_patterns(sig)
        if pats:
            by_sig[sig.name] = tuple(pats)
        if not ok:
            unsupported.append(sig.name)
        if reason:
            reasons[sig.name] = reason
    return PassivePlan(
        _dedupe(p for ps in by_sig.values() for p in ps), by_sig, tuple(unsupported), reasons
    )


def _dedupe(patterns: object) -> tuple[Pattern, ...]:
    # A pattern whose content extends another's (same start and type) adds nothing to an or-list.
    uniq = sorted(set(patterns), key=lambda p: (p[1], p[0], len(p[2]), p[2]))  # type: ignore[call-overload]
    out: list[Pattern] = []
    for p in uniq:
        if not any(q[0] == p[0] and q[1] == p[1] and p[2].startswith(q[2]) for q in out):
            out.append(p)
    return tuple(out)
