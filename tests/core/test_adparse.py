"""AD parsing: fields, UUID expansion, scan-response merge, malformed input (never raises)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.ble.adparse import build_ad, iter_ad, parse_ad, uuid_from_le, uuid_to_le

BASE = "-0000-1000-8000-00805f9b34fb"


def test_bluezone_android_v2_example_from_protocol() -> None:
    adv = bytes.fromhex("0201020FFFB522B9A665D754FE65E665D76A450303564E")
    f = parse_ad(adv)
    assert f.flags == 0x02
    assert f.manufacturer_data == {0x22B5: bytes.fromhex("B9A665D754FE65E665D76A45")}
    assert f.service_uuids == ("00004e56" + BASE,)
    assert f.structures == 3 and not f.truncated


def test_uuid_widths_and_byte_order() -> None:
    adv = (
        bytes.fromhex("0503 0d18 0f18")  # two 16-bit
        + bytes.fromhex("0505 78563412")  # one 32-bit
        + bytes.fromhex("1107 67a607add1172fa1c44bf573564e0000")  # 128-bit, little-endian on air
    )
    f = parse_ad(adv)
    assert f.service_uuids == (
        "0000180d" + BASE, "0000180f" + BASE, "12345678" + BASE,
        "00004e56-73f5-4bc4-a12f-17d1ad07a667",
    )  # fmt: skip


def test_service_data_tx_power_name_appearance() -> None:
    adv = bytes.fromhex("17166ffd" + "11" * 16 + "22" * 4 + "020af6" + "0409414243" + "03194000")
    f = parse_ad(adv)
    assert f.service_data == {"0000fd6f" + BASE: b"\x11" * 16 + b"\x22" * 4}
    assert f.tx_power == -10
    assert f.local_name == "ABC"
    assert f.appearance == 0x0040


def test_stops_at_zero_length_and_keeps_what_parsed() -> None:
    f = parse_ad(bytes.fromhex("020106 0303aafe 00 0303ffff"))
    assert f.service_uuids == ("0000feaa" + BASE,)
    assert not f.truncated  # zero padding is normal (real-adverts minew-09)


def test_overrun_keeps_earlier_structures() -> None:
    f = parse_ad(bytes.fromhex("020106 0bff4c001006071e"))  # claims 11 bytes, 6 present
    assert f.flags == 6 and f.manufacturer_data == {}
    assert f.truncated and f.structures == 1


def test_short_structures_are_skipped_not_fatal() -> None:
    f = parse_ad(bytes.fromhex("01ff 02ff4c 010a 0216aa 0119"))
    assert f.manufacturer_data == {} and f.tx_power is None and f.service_data == {}


def test_scan_response_merge_like_bluez() -> None:
    adv = bytes.fromhex("02011a 0303aafe 0bff4c001006071ea3dd89e0 0908426c75657a6f")  # short name
    rsp = bytes.fromhex("0303f1ff 14ff4c000108" + "00" * 15 + " 0a09426c75657a6f6e6531")
    f = parse_ad(adv, rsp)
    assert f.service_uuids == ("0000feaa" + BASE, "0000fff1" + BASE)  # accumulate
    assert f.manufacturer_data[0x004C][:1] == b"\x01"  # later value wins (BlueZ view)
    assert [p[:1] for c, p in f.manufacturer_all] == [b"\x10", b"\x01"]  # both kept for matching
    assert f.local_name == "Bluezone1"  # complete name beats the shortened one


def test_complete_name_not_replaced_by_later_short_name() -> None:
    f = parse_ad(bytes.fromhex("0409414243"), bytes.fromhex("03085859"))
    assert f.local_name == "ABC"


def test_empty_and_none_scan_response() -> None:
    assert parse_ad(b"").structures == 0
    assert parse_ad(b"", b"").structures == 0
    assert parse_ad(bytes.fromhex("020106"), None).flags == 6


def test_build_ad_round_trip() -> None:
    adv = build_ad(
        flags=0x1A, local_name="x", manufacturer_data={0x004C: b"\x10\x01\x00"}, tx_power=-4,
        service_uuids=[0x4E56, 0x12345678, "00004E56-73F5-4BC4-A12F-17D1AD07A667"],
        service_data={0xFD6F: b"\x01\x02"}, appearance=0x00C0,
    )  # fmt: skip
    f = parse_ad(adv)
    assert (f.flags, f.local_name, f.tx_power, f.appearance) == (0x1A, "x", -4, 0x00C0)
    assert f.manufacturer_data == {0x004C: b"\x10\x01\x00"}
    assert f.service_uuids == ("00004e56" + BASE, "12345678" + BASE,
                               "00004e56-73f5-4bc4-a12f-17d1ad07a667")  # fmt: skip
    assert f.service_data == {"0000fd6f" + BASE: b"\x01\x02"}


def test_uuid_le_helpers() -> None:
    assert uuid_to_le("4E56") == b"\x56\x4e"
    assert uuid_to_le("0000fd6f" + BASE) == b"\x6f\xfd"
    u = "e20a39f4-73f5-4bc4-a12f-17d1ad07a889"
    assert uuid_from_le(uuid_to_le(u)) == u


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=80), st.one_of(st.none(), st.binary(max_size=80)))
def test_never_raises_on_arbitrary_bytes(adv: bytes, rsp: bytes | None) -> None:
    f = parse_ad(adv, rsp)
    assert f.structures == len(iter_ad(adv)) + len(iter_ad(rsp or b""))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40)),
                max_size=8))  # fmt: skip
def test_never_raises_on_hostile_lengths(parts: list[tuple[int, int, bytes]]) -> None:
    data = b"".join(bytes((length, t)) + body for length, t, body in parts)
    parse_ad(data, data[::-1])
