"""The v1 wire contract: golden payloads, strict validation, topics, signatures."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.wire import codec, schema, topics
from scanner.wire.schema import Health, SchemaError, WindowReport

GOLDEN = Path(__file__).parent.parent / "data" / "golden"
KEY = b"node-key-laptop-3"


def _basic() -> WindowReport:
    return WindowReport(
        node="pi-07",
        site="ptc-market-01",
        seq=41,
        window_start=1597040100,  # 2020-08-10T06:15:00Z
        window_s=60,
        counts={
            "bluezone": {"android": 3, "ios_bg": 1, "ios_fg": 0},
            "iphone": {"all": 5},
            "other": {"unknown": 7},
            "phone": {"en": 0},
        },
        slot_counts={"bluezone": {"android": 4}},
        health=Health(
            scanned_s=60.0,
            adverts=5123,
            mode="replay",
            rssi_min_dbm=-85,
            below_gate=211,
            malformed=2,
            clock_synced=True,
        ),
        software="bluezone-audit/0.1.0",
        headcount=12,
    )


def test_encode_matches_golden_bytes() -> None:
    assert codec.encode(_basic()) == (GOLDEN / "window-v1-basic.json").read_bytes()


def test_decode_golden_roundtrip() -> None:
    r = codec.decode((GOLDEN / "window-v1-basic.json").read_bytes())
    assert r == _basic()
    assert r.count("bluezone") == 4
    assert schema.iso_utc(r.window_start) == "2020-08-10T06:15:00Z"


def _capture() -> WindowReport:
    android = schema.SlotCapture(15, 14, 13, (1, *[0] * 12, 1, 2), 41, 38, 37)
    iphone = schema.SlotCapture(15, 14, 13, (*[0] * 14, 5), 70, 65, 65)
    return WindowReport(
        node="pi-07",
        site="ptc-office-02",
        seq=55,
        window_start=1597040940,  # 2020-08-10T06:29:00Z: closes the 06:15 slot
        window_s=60,
        counts={
            "bluezone": {"android": 3, "ios_bg": 0, "ios_fg": 0},
            "iphone": {"all": 5},
            "other": {"unknown": 7},
            "phone": {"en": 0},
        },
        slot_counts={"bluezone": {"android": 4}},
        health=Health(
            scanned_s=60.0,
            adverts=5123,
            mode="replay",
            rssi_min_dbm=-90,
            below_gate=211,
            clock_synced=True,
            near_gate=2,
        ),
        software="bluezone-audit/0.2.0",
        headcount=12,
        capture={"bluezone": {"android": android}, "iphone": {"all": iphone}},
    )


def test_capture_golden_bytes_and_roundtrip() -> None:
    golden = (GOLDEN / "window-v1-capture.json").read_bytes()
    assert codec.encode(_capture()) == golden
    r = codec.decode(golden)
    assert r == _capture()
    assert r.capture["bluezone"]["android"].devices == 4
    assert r.capture["bluezone"]["android"].detections == 1 + 14 + 2 * 15


@pytest.mark.parametrize(
    "change",
    [
        {"lag2": 10, "run3": 11},  # more runs of three than lag-2 pairs
        {"seen": [1, 2]},  # histogram length differs from the windows listened
        {"lag1": 999},  # more co-sightings than devices x pairs
        {"windows": 16, "seen": [0] * 16},  # more windows than a slot holds
        {"extra": 1},
    ],
)
def test_inconsistent_capture_is_rejected(change: dict[str, object]) -> None:
    obj = json.loads((GOLDEN / "window-v1-capture.json").read_bytes())
    obj["capture"]["bluezone"]["android"].update(change)
    with pytest.raises(schema.SchemaError) as exc:
        codec.decode(json.dumps(obj).encode())
    assert exc.value.reason == "bad_capture"


def test_signed_golden_verifies_and_forgery_fails() -> None:
    raw = (GOLDEN / "window-v1-signed.json").read_bytes()
    r = codec.decode(raw, key=KEY)
    assert r.node == "laptop-3" and r.health.restarts == 1 and r.window_s == 300
    assert codec.encode(r, key=KEY) == raw
    forged = json.loads(raw)
    forged["counts"]["bluezone"]["android"] = 9
    with pytest.raises(SchemaError) as e:
        codec.decode(json.dumps(forged).encode(), key=KEY)
    assert e.value.reason == "bad_signature"
    with pytest.raises(SchemaError) as e:
        codec.decode(raw, key=b"another-key")
    assert e.value.reason == "bad_signature"


def _mutated(**changes: object) -> bytes:
    obj = json.loads((GOLDEN / "window-v1-basic.json").read_bytes())
    for path, value in changes.items():
        target = obj
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return json.dumps(obj).encode()


_DELETE = object()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"[1,2]", "bad_json"),
        (b"\xff\xfe", "bad_json"),
        (_mutated(v=2), "bad_version"),
        (_mutated(v="1"), "bad_version"),
        (_mutated(node=_DELETE), "missing_field"),
        (_mutated(node="a/b"), "bad_node"),
        (_mutated(site="+"), "bad_site"),
        (_mutated(seq=-1), "bad_seq"),
        (_mutated(seq=True), "bad_seq"),
        (_mutated(window_s=7), "bad_window_s"),
        (_mutated(window_start="2020-08-10T06:15:30Z"), "bad_window_start"),
        (_mutated(window_start="yesterday"), "bad_window_start"),
        (_mutated(counts__bluezone__android=-1), "negative_count"),
        (_mutated(counts__bluezone__android=10**12), "count_too_large"),
        (_mutated(counts__bluezone__android=1.5), "bad_counts"),
        (_mutated(counts__iphone="lots"), "bad_counts"),
        (_mutated(counts__Bad={"x": 1}), "bad_counts"),
        (_mutated(health__scanned_s=61), "bad_health"),
        (_mutated(health__mode="psychic"), "bad_health"),
        (_mutated(health__secret="x"), "bad_health"),
        (_mutated(health__adverts=None), "bad_health"),
        (_mutated(headcount=-3), "bad_headcount"),
        (_mutated(address="AA:BB:CC:DD:EE:FF"), "unknown_field"),
        (b"{" + b'"x":1,' * 10_000 + b'"v":1}', "oversized"),
        (b'{"v": NaN}', "bad_json"),
    ],
)
def test_decode_rejects_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(SchemaError) as e:
        codec.decode(payload)
    assert e.value.reason == reason


def test_future_window_rejected_only_with_clock() -> None:
    raw = (GOLDEN / "window-v1-basic.json").read_bytes()
    codec.decode(raw)  # no clock: not checked
    with pytest.raises(SchemaError) as e:
        codec.decode(raw, now=1597040100 - 3600)
    assert e.value.reason == "future_window"
    assert codec.decode(raw, now=1597040100 - 60).seq == 41


def test_topics_roundtrip_and_reject_wildcards() -> None:
    t = topics.window_topic("ptc-market-01", "pi-07")
    assert t == "bzaudit/v1/ptc-market-01/pi-07/window"
    assert topics.parse_topic(t) == ("ptc-market-01", "pi-07", "window")
    assert topics.status_topic("s", "n") == "bzaudit/v1/s/n/status"
    for bad in ("bzaudit/v1/+/n/window", "bzaudit/v2/s/n/window", "bzaudit/v1/s/n/other", "x"):
        with pytest.raises(SchemaError):
            topics.parse_topic(bad)


def test_encode_refuses_invalid_report() -> None:
    with pytest.raises(SchemaError):
        codec.encode(dataclasses.replace(_basic(), window_start=1597040101))


@given(st.binary(max_size=2048))
def test_decode_never_raises_anything_but_schema_error(data: bytes) -> None:
    with contextlib.suppress(SchemaError):
        codec.decode(data)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda kids: (
            st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_decode_arbitrary_json_values(value: object) -> None:
    obj = json.loads((GOLDEN / "window-v1-basic.json").read_bytes())
    for k in ("counts", "health", "seq", "slot_counts", "headcount"):
        mutated = dict(obj)
        mutated[k] = value
        try:
            r = codec.decode(json.dumps(mutated, allow_nan=False).encode())
        except (SchemaError, ValueError):
            continue
        # Whatever got through must re-encode under the same contract.
        assert codec.decode(codec.encode(r)) == r


@pytest.mark.parametrize(
    "text",
    [
        "2020-02-30T00:00:00Z",
        "2020-13-01T00:00:00Z",
        "2020-08-10T24:00:00Z",
        "2020-08-10T06:15:60Z",
        "2020-08-10 06:15:00Z",
        "2020-08-10T06:15:00+07:00",
        "2020-08-10T06:15:00Z\n",
        "٢٠٢٠-08-10T06:15:00Z",
    ],
)
def test_parse_iso_utc_rejects_impossible_or_non_utc_times(text: str) -> None:
    with pytest.raises(SchemaError):
        schema.parse_iso_utc(text)


@given(st.integers(min_value=0, max_value=4_102_444_800))
def test_iso_roundtrip(epoch: int) -> None:
    assert schema.parse_iso_utc(schema.iso_utc(epoch)) == epoch
