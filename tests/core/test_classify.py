"""Classification: rules R1-R12 with precedence, keys, multi-category sightings, caches, fuzzing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.ble.adparse import parse_ad
from scanner.ble.advert import Advert
from scanner.ble.classify import Classifier, Sighting, category_of
from tests.factories import DEFAULT_BZ_ID, DEFAULT_RPI, KINDS, advert

ADDR = "66:EC:0E:84:4F:6E"
ADDR_KEY = bytes.fromhex("66EC0E844F6E")
C = Classifier()


def _cls(kind: str, address: str = ADDR, **kw: object) -> tuple[Sighting, ...]:
    p = advert(kind, **kw)
    return C.classify_raw(p.adv, p.scan_rsp, address)


def _cats(s: tuple[Sighting, ...]) -> list[tuple[str, str, str, bool]]:
    return [(x.category, x.stratum, x.rule, x.counted) for x in s]


EXPECTED = {
    "bz_android_v2": [("bluezone", "android", "R1", True)],
    "bz_android_v1": [("bluezone", "android_v1", "R2", True)],
    "bz_ios_fg_v2": [("bluezone", "ios_fg", "R4", True)],
    "bz_ios_fg_v1": [("bluezone", "ios_fg", "R5", True)],
    "bz_ios_bg": [
        ("bluezone", "ios_bg", "R6/exclusive", True),
        ("iphone", "all", "R9-overflow", True),
    ],
    "bz_ibeacon": [("bluezone", "android_beacon", "R8", False)],
    "iphone": [("iphone", "all", "R9", True)],
    "mac": [("other", "apple_device", "R9-demote", True)],
    "watch": [("other", "wearable", "R9-demote", True)],
    "ipad": [("other", "apple_device", "R9-demote", True)],
    "appletv": [("other", "apple_device", "R9-demote", True)],
    "gaen": [("phone", "en", "R10", True)],
    "airpods": [("other", "apple_accessory", "R11", True)],
    "airtag": [("other", "apple_accessory", "R11", True)],
    "findmy_apple": [("iphone", "all", "R9-findmy", True)],
    "ibeacon": [("other", "beacon", "R11", True)],
    "eddystone": [("other", "beacon", "R11", True)],
    "ms_cdp": [("other", "pc", "R11", True)],
    "samsung": [("phone", "samsung", "R12", True)],
    "noise": [("other", "unknown", "other", True)],
}


def test_every_factory_kind_has_an_expectation() -> None:
    assert set(EXPECTED) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_kind_classification(kind: str) -> None:
    assert _cats(_cls(kind)) == EXPECTED[kind]


def test_android_v2_key_is_the_rolling_id_not_the_address() -> None:
    a, b = _cls("bz_android_v2", "11:22:33:44:55:66"), _cls("bz_android_v2", "AA:BB:CC:DD:EE:FF")
    assert a == b  # new MAC every 15-s burst: still one device
    assert a[0].key == DEFAULT_BZ_ID and a[0].rolling
    other = _cls("bz_android_v2", bz_id=bytes(range(12)))
    assert other[0].key == bytes(range(12))


def test_android_v2_flags_and_order_do_not_matter() -> None:
    # Match by AD type, never by offset or Flags (protocol.md §2): no/other Flags, reversed order.
    for flags in (None, 0x06, 0x1A):
        p = advert("bz_android_v2") if flags is None else advert("bz_android_v2", flags=flags)
        adv = p.adv[3:] if flags is None else p.adv
        assert _cats(C.classify_raw(adv, None, ADDR))[0][:3] == ("bluezone", "android", "R1")
    reordered = bytes.fromhex("0303564e 0fffb522") + DEFAULT_BZ_ID
    assert C.classify_raw(reordered, None, ADDR)[0].key == DEFAULT_BZ_ID


def test_android_other_lengths_and_uuid_only_are_r3_by_address() -> None:
    s = C.classify_raw(bytes.fromhex("05ffb52201020303564e"), None, ADDR)
    assert _cats(s) == [("bluezone", "android_unknown", "R3", True)] and s[0].key == ADDR_KEY
    assert _cats(C.classify_raw(bytes.fromhex("0303564e"), None, ADDR))[0][1] == "android_unknown"
    # six non-alphanumeric bytes are not a BLID
    assert _cats(C.classify_raw(bytes.fromhex("09ffb522000102030405"), None, ADDR))[0][2] == "R3"


def test_v1_keys_are_the_blid() -> None:
    assert _cls("bz_android_v1", blid="Zz0912")[0].key == b"Zz0912"
    fg = _cls("bz_ios_fg_v1", blid="Zz0912", digits=(5, 1))
    assert fg[0].key == b"Zz0912" and not fg[0].rolling
    p = advert("bz_ios_fg_v1")  # name in the scan response only: without it, key by address
    assert C.classify_raw(p.adv, None, ADDR)[0].key == ADDR_KEY


def test_ios_bg_with_nearby_info_under_one_address_is_one_iphone() -> None:
    s = _cls("bz_ios_bg", in_scan_rsp=True)
    assert _cats(s) == [("bluezone", "ios_bg", "R6/exclusive", True), ("iphone", "all", "R9", True)]
    assert s[0].key == s[1].key == ADDR_KEY
    assert category_of(s, C.table.categories) == "bluezone"


def test_overflow_bit_not_exclusive_and_v1_bit() -> None:
    s = _cls("bz_ios_bg", overflow_uuids=["F47B5E2D-4A9E-4C5A-9B3F-8E1D2C3A4B5C"])
    assert s[0].rule == "R6"  # another app's bit is set too
    assert _cls("bz_ios_bg", version="v1")[0].rule == "R7/exclusive"
    # an overflow area without a Bluezone bit: an iPhone, not Bluezone
    s = _cls("bz_ios_bg", version="v1", scan_rsp=None)
    assert s[0].stratum == "ios_bg"
    p = advert("bz_ios_bg")
    no_bz = p.adv[:8] + bytes(16)
    assert _cats(C.classify_raw(no_bz, None, ADDR)) == [("iphone", "all", "R9-overflow", True)]


def test_mac_shape_demotes_overflow_out_of_iphone() -> None:
    p = advert("mac")
    rsp = advert("bz_ios_bg", flags=None).adv[3:]
    s = C.classify_raw(p.adv, rsp, ADDR)
    assert ("iphone", "all") not in [(x.category, x.stratum) for x in s]


def test_ibeacon_companion_never_counts_and_is_not_an_other_beacon() -> None:
    s = _cls("bz_ibeacon")
    assert len(s) == 1 and not s[0].counted
    assert category_of(s, C.table.categories) is None
    moved = advert("ibeacon", uuid=bytes.fromhex("C7AFEF7B17884F4AA87D691D53BF21C4"), major=1)
    assert _cats(C.classify_raw(moved.adv, None, ADDR))[0][:2] == ("other", "beacon")


def test_en_keyed_by_rpi_not_slot_aligned() -> None:
    a, b = _cls("gaen", "11:22:33:44:55:66"), _cls("gaen")
    assert a == b and a[0].key == DEFAULT_RPI and not a[0].rolling
    assert _cls("gaen", rpi=bytes(16))[0].key == bytes(16)


def test_nearby_info_after_handoff_still_found() -> None:
    assert _cats(_cls("iphone", handoff=True)) == [("iphone", "all", "R9", True)]


def test_microsoft_cdp_by_device_type() -> None:
    assert _cats(_cls("ms_cdp", device_type=8))[0][:2] == ("phone", "cdp")
    assert _cats(_cls("ms_cdp", device_type=6))[0][:2] == ("iphone", "all")
    assert _cats(_cls("ms_cdp", device_type=15))[0][:2] == ("other", "pc")


def test_samsung_watch_appearance_demoted() -> None:
    assert _cats(_cls("samsung", extra=[(0x19, b"\xc0\x00")]))[0][:2] == ("other", "wearable")


def test_fallback_other_only_when_nothing_else_counted() -> None:
    p = advert("noise", extra=[(0xFF, b"\x4c\x00\x10\x06\x07\x1e\xa3\xdd\x89\xe0")])
    assert [x.category for x in C.classify_raw(p.adv, None, ADDR)] == ["iphone"]


def test_empty_advert_is_an_unknown_device() -> None:
    assert _cats(C.classify_raw(b"", None, ADDR)) == [("other", "unknown", "other", True)]


def test_strata_cover_emitted_counted_pairs() -> None:
    strata = set(C.strata())
    for kind in KINDS:
        for s in _cls(kind):
            assert (s.category, s.stratum) in strata or not s.counted


def test_sighting_repr_hides_the_key() -> None:
    s = _cls("bz_android_v2")[0]
    assert DEFAULT_BZ_ID.hex() not in repr(s).lower() and "b9" not in repr(s).lower()


def test_caches_are_bounded_and_transparent() -> None:
    c = Classifier(cache_size=8)
    for i in range(50):
        p = advert("bz_android_v2", bz_id=i.to_bytes(12, "big"))
        assert c.classify_raw(p.adv, None, f"AA:BB:CC:DD:EE:{i:02X}")[0].key == i.to_bytes(
            12, "big"
        )
        q = advert("iphone", nearby=bytes((i, 0x1E, 1, 2, 3, 4)))
        assert c.classify_raw(q.adv, None, f"AA:BB:CC:DD:EE:{i:02X}")[0].key[-1] == i
    for i in range(20):
        c.classify(Advert(t=0.0, address=ADDR, rssi_dbm=None, local_name=str(i)), ADDR)
    assert all(n <= 8 for n in c.cache_sizes())
    c.forget()  # identifiers in caches must not outlive a window
    assert c.cache_sizes() == (0, 0, 0, 0)
    p = advert("iphone")
    assert c.classify_raw(p.adv, None, ADDR) == c.classify_raw(p.adv, None, ADDR)
    assert c.classify_raw(p.adv, None, "11:11:11:11:11:11")[0].key == bytes.fromhex("111111111111")


@dataclass
class FakeBleak:
    """Shaped like bleak's AdvertisementData (the fields the classifier reads)."""

    local_name: str | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    service_uuids: list[str] = field(default_factory=list)
    tx_power: int | None = None


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("bz_ios_bg",)])
def test_parsed_adverts_classify_like_raw_bytes(kind: str) -> None:
    p = advert(kind)
    f = parse_ad(p.adv, p.scan_rsp)
    parsed = FakeBleak(
        f.local_name, f.manufacturer_data, f.service_data, list(f.service_uuids), f.tx_power
    )
    assert C.classify(parsed, ADDR) == C.classify_raw(p.adv, p.scan_rsp, ADDR)
    adv = Advert(t=0.0, address=ADDR, rssi_dbm=-50, local_name=f.local_name,
                 manufacturer_data=f.manufacturer_data, service_data=f.service_data,
                 service_uuids=f.service_uuids, tx_power=f.tx_power)  # fmt: skip
    assert C.classify(adv, ADDR) == C.classify_raw(p.adv, p.scan_rsp, ADDR)


def test_bleak_uppercase_uuids_and_odd_values() -> None:
    odd = FakeBleak(
        local_name=123,  # type: ignore[arg-type]
        manufacturer_data={0x22B5: DEFAULT_BZ_ID, "x": b"1", -1: b"", 0x4C: "str"},  # type: ignore[dict-item]
        service_data={"0000FD6F-0000-1000-8000-00805F9B34FB": bytearray(20), 5: b""},  # type: ignore[dict-item]
        service_uuids=["0000FD6F-0000-1000-8000-00805F9B34FB", None],  # type: ignore[list-item]
        tx_power="high",  # type: ignore[arg-type]
    )
    s = C.classify(odd, ADDR)
    assert [(x.category, x.stratum) for x in s] == [("bluezone", "android"), ("phone", "en")]


class Exploding:
    @property
    def manufacturer_data(self) -> Mapping[int, bytes]:
        raise RuntimeError("boom")


def test_classify_never_raises_on_broken_objects() -> None:
    assert C.classify(Exploding(), ADDR) == ()  # type: ignore[arg-type]
    assert C.classify(object(), ADDR) != ()  # type: ignore[arg-type]  # nothing readable: unknown


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=62), st.one_of(st.none(), st.binary(max_size=62)), st.text(max_size=20))
def test_classify_raw_never_raises(adv: bytes, rsp: bytes | None, address: str) -> None:
    for s in C.classify_raw(adv, rsp, address):
        assert s.category in C.table.categories and isinstance(s.key, bytes)


_apple_payloads = st.lists(
    st.tuples(st.integers(0, 0x20), st.integers(0, 40), st.binary(max_size=30)), max_size=5
).map(lambda tl: b"\x4c\x00" + b"".join(bytes((t, n)) + v for t, n, v in tl))


@settings(max_examples=300, deadline=None)
@given(_apple_payloads, st.binary(max_size=20))
def test_hostile_apple_tlvs_never_raise(payload: bytes, tail: bytes) -> None:
    adv = bytes((min(len(payload) + 1, 255), 0xFF)) + payload[:254] + tail
    C.classify_raw(adv, tail, ADDR)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.one_of(st.integers(-5, 70000), st.text(max_size=3)), st.binary(max_size=30), max_size=4
    ),
    st.dictionaries(
        st.text(max_size=40), st.one_of(st.binary(max_size=30), st.integers()), max_size=4
    ),
    st.lists(st.one_of(st.text(max_size=40), st.none()), max_size=4),
)
def test_classify_weird_dicts_never_raise(mfr: dict, sdata: dict, uuids: list) -> None:  # type: ignore[type-arg]
    C.classify(FakeBleak(None, mfr, sdata, uuids, None), ADDR)


def test_bytes_like_inputs() -> None:
    p = advert("bz_android_v2")
    expected = C.classify_raw(p.adv, None, ADDR)
    assert C.classify_raw(bytearray(p.adv), None, ADDR) == expected
    assert C.classify_raw(memoryview(p.adv), bytearray(b""), ADDR) == expected
    assert C.classify_raw(None, None, ADDR) == ()  # type: ignore[arg-type]


def test_passive_plan_patterns() -> None:
    plan = C.passive_patterns()
    assert (0, 0xFF, b"\xb5\x22") in plan.patterns  # R1/R2/R3: company 0x22B5
    assert (0, 0x03, b"\x56\x4e") in plan.patterns  # UUID16 0x4E56
    assert (0, 0x16, b"\x6f\xfd") in plan.patterns  # EN service data
    ios_v2 = bytes.fromhex("67a607add1172fa1c44bf573564e0000")
    assert (0, 0x07, ios_v2) in plan.by_signature["bz_ios_v2_fg"]
    assert (0, 0xFF, b"\x4c\x00") in plan.patterns  # every Apple TLV, wherever it sits
    for start, ad_type, content in plan.patterns:
        assert content and start + len(content) <= 31 and 0 < ad_type <= 0xFF
    # no pattern is made redundant by a shorter one of the same start and type
    for p in plan.patterns:
        assert not any(q != p and q[:2] == p[:2] and p[2].startswith(q[2]) for q in plan.patterns)
    assert {"bz_ios_v2_bg", "bz_ios_v1_bg", "unknown", "iphone_ios_app_fg"} <= set(plan.unsupported)
    assert "bz_android_v2" not in plan.unsupported
    assert all(name in plan.reasons for name in plan.unsupported)


def test_passive_patterns_let_every_counted_kind_through() -> None:
    # Each factory advert that counts (bar the overflow-only and catch-all cases) matches a pattern.
    from scanner.ble.adparse import iter_ad

    plan = C.passive_patterns()
    for kind in KINDS:
        p = advert(kind)
        rules = {s.rule for s in C.classify_raw(p.adv, None, ADDR)}
        if rules <= {"other", "R9-overflow", "R6/exclusive", "R7/exclusive", "R9-app"}:
            continue
        structures = iter_ad(p.adv)
        assert any(
            t == ad_type and d[start : start + len(content)] == content
            for start, ad_type, content in plan.patterns
            for t, d in structures
        ), kind
