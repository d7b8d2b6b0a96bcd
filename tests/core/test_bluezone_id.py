"""Bluezone v2 rolling IDs against the real vectors of protocol.md §2.9 (THAI logs and README)."""

from __future__ import annotations

import calendar

import pytest

from scanner.ble.bluezone_id import (
    bluezone_id,
    daily_key,
    day_ids,
    day_of,
    decode_v1_name,
    encode_v1_name,
    id_at,
    slot_of,
    subkey,
)

# THAI request_upload_history.txt: daily key for 2020-08-08 (time_start 1596844800).
DAILY = bytes.fromhex("4C5224B397F8AB3896781D5AA0F3119F280513F1B592CA280EBDED6357E21084")
DAY0 = 1596844800  # 2020-08-08 00:00 UTC
# THAI README.md: base key created that same day (time == time_start), own ID logged 11:47 UTC.
THAI_BASE = bytes.fromhex("66B07D33DA4E16A359B590EDA1E8DC90892D341C86A6491376041FE44505FFB5")


@pytest.mark.parametrize(
    ("slot", "expected"),
    [
        (0, "29ABD013B41C90269332AB5D"),
        (23, "B9A665D754FE65E665D76A45"),
        (24, "3AA8DFC0A15682B27216FC31"),
        (25, "B9A232358A6C89E7A00B673C"),
        (26, "C5DAD2EC90AFFA065D1E0A70"),
        (95, "B0A3CA441EEC82955E4E6252"),
    ],
)
def test_thai_log_vectors(slot: int, expected: str) -> None:
    assert bluezone_id(DAILY, slot).hex().upper() == expected


def test_subkey_chain_start() -> None:
    s0 = subkey(DAILY, 0).hex().upper()
    assert s0.startswith("298C38B9") and s0.endswith("ABF75DBA")


def test_thai_readme_pair_slot_47() -> None:
    # History rows at 1596887252 s (11:47:32 UTC) carry own ID 286BCE...; slot 47 = 11:45-12:00.
    assert slot_of(1596887252) == 47
    assert bluezone_id(daily_key(THAI_BASE, 0), 47).hex().upper() == "286BCE589AB994EFA5F73CAD"
    assert id_at(THAI_BASE, day_of(DAY0), 1596887252).hex().upper() == "286BCE589AB994EFA5F73CAD"


def test_daily_key_is_repeated_sha256() -> None:
    import hashlib

    assert daily_key(THAI_BASE, 0) == THAI_BASE
    assert daily_key(THAI_BASE, 2) == hashlib.sha256(hashlib.sha256(THAI_BASE).digest()).digest()
    with pytest.raises(ValueError):
        daily_key(THAI_BASE, -1)


def test_day_ids_match_single_slot_derivation() -> None:
    ids = day_ids(DAILY)
    assert len(ids) == 96 and len(set(ids)) == 96
    assert all(ids[i] == bluezone_id(DAILY, i) for i in (0, 1, 47, 95))


def test_slots_are_utc_quarter_hours() -> None:
    t = calendar.timegm((2020, 8, 8, 6, 0, 0))
    assert slot_of(t - 1) == 23 and slot_of(t) == 24
    assert slot_of(DAY0) == 0 and slot_of(DAY0 + 86399) == 95
    assert slot_of(DAY0 + 600, n_per_day=144) == 1  # the old 10-min native default


def test_id_changes_exactly_at_the_quarter_hour() -> None:
    boundary = calendar.timegm((2020, 8, 8, 6, 0, 0))
    before, after = (
        id_at(THAI_BASE, day_of(DAY0), boundary - 0.001),
        id_at(THAI_BASE, day_of(DAY0), boundary),
    )
    assert before != after
    assert id_at(THAI_BASE, day_of(DAY0), boundary - 899) == before
    assert id_at(THAI_BASE, day_of(DAY0), boundary + 899.9) == after
    # next UTC day: the daily key moves on, slot 0 again
    assert id_at(THAI_BASE, day_of(DAY0), DAY0 + 86400) == bluezone_id(daily_key(THAI_BASE, 1), 0)


def test_bad_slot_rejected() -> None:
    with pytest.raises(ValueError):
        bluezone_id(DAILY, 96)


def test_v1_name_example_from_protocol() -> None:
    assert encode_v1_name("aB3xY9", 2, 4) == "2aBx3xBY94"
    assert decode_v1_name("2aBx3xBY94") == "aB3xY9"


@pytest.mark.parametrize("name", [None, "", "BLEios", "Bluezone", "2aBx3xBY92", "6aBx3xBY94",
                                  "2aBx3xBY9", "2aBy3xBY94", "2aBx3x\u00e9Y94"])  # fmt: skip
def test_v1_name_rejects_non_names(name: str | None) -> None:
    assert decode_v1_name(name) is None


def test_v1_name_round_trip_all_digit_pairs() -> None:
    for d1 in range(1, 6):
        for d2 in range(1, 6):
            if d1 != d2:
                assert decode_v1_name(encode_v1_name("Zq09Ab", d1, d2)) == "Zq09Ab"


def test_real_ids_through_the_pipeline_rotate_at_the_quarter_hour() -> None:
    """Two Bluezone Android phones (real keys), a new MAC per 15-s burst, 05:50-06:10 UTC."""
    from scanner.ble.classify import Classifier
    from scanner.counting.pipeline import NodeIdentity, Pipeline
    from scanner.wire.schema import WindowReport
    from tests.factories import advert

    reports: list[WindowReport] = []
    pipe = Pipeline(Classifier(), identity=NodeIdentity(node="n1", site="s1"), sink=reports.append,
                    window_s=300)  # fmt: skip
    start = calendar.timegm((2020, 8, 8, 5, 50, 0))
    phones = [(THAI_BASE, 0.0), (DAILY, 7.0)]  # DAILY is its own base key on 2020-08-08
    mac = 0
    for burst in range(40):  # 30-s cycles: 15 s advertising, 15 s off (protocol.md §2.7)
        for base, phase in phones:
            mac += 1
            address = f"C0:00:00:00:{mac >> 8:02X}:{mac & 0xFF:02X}"  # new address every burst
            for k in range(15):
                t = start + burst * 30 + phase + k
                p = advert("bz_android_v2", bz_id=id_at(base, day_of(DAY0), t))
                pipe.feed_raw(t, address, -60, p.adv, p.scan_rsp)
    pipe.finish()
    by_start = {r.window_start: r for r in reports}
    assert len(by_start) == 4  # 05:50, 05:55, 06:00, 06:05 (windows divide 15 min)
    for r in reports:
        # 2 phones per window and per slot, never 2 x 80 addresses, never the union across 06:00
        assert r.count("bluezone", "android") == 2
        assert r.slot_counts["bluezone"]["android"] == 2
    # the IDs really did change at 06:00 for both phones
    boundary = calendar.timegm((2020, 8, 8, 6, 0, 0))
    for base, _ in phones:
        assert id_at(base, day_of(DAY0), boundary - 1) != id_at(base, day_of(DAY0), boundary)
