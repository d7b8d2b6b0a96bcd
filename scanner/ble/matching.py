"""Does a signature match an advert, and which key does it yield (pure; docs/protocol.md §6).

The compiled signature tests of scanner.ble.signatures, evaluated against one MatchView.
"""

from __future__ import annotations

from scanner.ble.adparse import BASE_UUID_SUFFIX
from scanner.ble.bluezone_id import decode_v1_name
from scanner.ble.matchview import MatchView
from scanner.ble.signatures import PayloadTest, Signature

# (category, stratum, key, rolling, rule, counted): a sighting before its address is attached.
Template = tuple[str, str, bytes | None, bool, str, bool]


def anchor(sig: Signature) -> tuple[object, ...]:
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


def matches(sig: Signature, v: MatchView) -> bool:
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


def template(sig: Signature, v: MatchView) -> Template:
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
