"""The normalised view of one advert that signatures are matched against (pure, never raises)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from scanner.ble.adparse import AdFields
from scanner.ble.advert import AdvertLike

log = logging.getLogger(__name__)

APPLE: Final = 0x004C
OVERFLOW_TYPE: Final = 0x01  # Apple "overflow area": type byte + 16-byte bitmask, not a TLV (§3)


@dataclass(frozen=True, slots=True)
class MatchView:
    manufacturer: tuple[tuple[int, bytes], ...]
    apple_tlvs: tuple[tuple[int, bytes], ...]
    overflow: bytes | None  # the 16-byte bitmask (first one seen)
    uuids: frozenset[str]  # lowercase 128-bit strings
    service_data: Mapping[str, bytes]
    name: str | None
    flags: int | None
    tx_power: int | None
    appearance: int | None
    anchors: frozenset[tuple[object, ...]]


def apple_tlvs(payload: bytes) -> tuple[list[tuple[int, bytes]], bytes | None]:
    """TLVs inside Apple manufacturer data (several may share one AD), or the overflow bitmask."""
    if payload[:1] == bytes((OVERFLOW_TYPE,)):
        return [], (bytes(payload[1:17]) if len(payload) >= 17 else None)
    out: list[tuple[int, bytes]] = []
    i, n = 0, len(payload)
    while i + 2 <= n:
        t, ln = payload[i], payload[i + 1]
        if i + 2 + ln > n:
            break  # truncated TLV: keep what parsed before
        out.append((t, bytes(payload[i + 2 : i + 2 + ln])))
        i += 2 + ln
    return out, None


def build_view(
    manufacturer: tuple[tuple[int, bytes], ...],
    uuids: frozenset[str],
    service_data: Mapping[str, bytes],
    name: str | None,
    flags: int | None,
    tx_power: int | None,
    appearance: int | None,
) -> MatchView:
    tlvs: list[tuple[int, bytes]] = []
    overflow: bytes | None = None
    anchors: set[tuple[object, ...]] = {("*",)}
    for company, payload in manufacturer:
        anchors.add(("m", company))
        if company == APPLE:
            found, mask = apple_tlvs(payload)
            tlvs.extend(found)
            if mask is not None and overflow is None:
                overflow = mask
    anchors.update(("t", t) for t, _ in tlvs)
    anchors.update(("s", u) for u in service_data)
    anchors.update(("u", u) for u in uuids)
    for flag, tag in ((overflow, "o"), (appearance, "a"), (flags, "f"), (name, "n")):
        if flag is not None:
            anchors.add((tag,))
    return MatchView(
        manufacturer, tuple(tlvs), overflow, uuids, service_data, name, flags, tx_power, appearance,
        frozenset(anchors),
    )  # fmt: skip


def view_from_fields(f: AdFields) -> MatchView:
    return build_view(
        f.manufacturer_all, frozenset(f.service_uuids), f.service_data, f.local_name, f.flags,
        f.tx_power, f.appearance,
    )  # fmt: skip


# Hashable, sanitised content of a parsed advert: (manufacturer, uuids, service data, name, tx).
AdvertParts = tuple[
    tuple[tuple[int, bytes], ...],
    frozenset[str],
    tuple[tuple[str, bytes], ...],
    str | None,
    int | None,
]


def advert_parts(adv: AdvertLike) -> AdvertParts | None:
    """What the classifier reads from a parsed advert, tolerating odd types (None if unreadable)."""
    try:
        mfr = tuple(
            (k, bytes(v)) for k, v in _items(getattr(adv, "manufacturer_data", None))
            if isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 0xFFFF and _is_bytes(v)
        )  # fmt: skip
        sdata = tuple(
            (k.lower(), bytes(v)) for k, v in _items(getattr(adv, "service_data", None))
            if isinstance(k, str) and _is_bytes(v)
        )  # fmt: skip
        raw_uuids = getattr(adv, "service_uuids", None) or ()
        uuids = frozenset(u.lower() for u in raw_uuids if isinstance(u, str))
        name = getattr(adv, "local_name", None)
        tx = getattr(adv, "tx_power", None)
    except Exception:  # a foreign object whose properties raise: skip it rather than crash the scan
        log.debug("advert object unreadable; skipped")
        return None
    return (
        mfr, uuids, sdata,
        name if isinstance(name, str) else None,
        tx if isinstance(tx, int) and not isinstance(tx, bool) else None,
    )  # fmt: skip


def view_from_parts(parts: AdvertParts) -> MatchView:
    mfr, uuids, sdata, name, tx = parts
    # bleak reports neither the Flags AD nor the appearance.
    return build_view(mfr, uuids, dict(sdata), name, None, tx, None)


def _items(obj: Any) -> list[tuple[Any, Any]]:
    if isinstance(obj, Mapping):
        return list(obj.items())
    return []


def _is_bytes(v: Any) -> bool:
    return isinstance(v, bytes | bytearray | memoryview)
