"""The optional health fields of replayed sniffer captures: `crc_failed`, `rssi_available`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from scanner.wire import codec
from scanner.wire.schema import Health, SchemaError, WindowReport

GOLDEN = Path(__file__).parent.parent / "data" / "golden"


def _sniffer() -> WindowReport:
    return WindowReport(
        node="laptop-3",
        site="ptc-market-01",
        seq=0,
        window_start=1596866280,  # 2020-08-08T05:58:00Z
        window_s=60,
        counts={
            "bluezone": {"android": 2, "ios_bg": 1, "ios_fg": 1},
            "iphone": {"all": 3},
            "other": {"unknown": 1},
            "phone": {"en": 2},
        },
        slot_counts={"bluezone": {"android": 2}},
        health=Health(
            scanned_s=59.875, adverts=328, mode="replay", crc_failed=47, rssi_available=False
        ),
        software="bluezone-audit/0.1.0",
    )


def test_sniffer_golden_round_trips_byte_for_byte() -> None:
    raw = (GOLDEN / "window-v1-sniffer.json").read_bytes()
    assert codec.encode(_sniffer()) == raw
    assert codec.decode(raw) == _sniffer()


def test_defaults_stay_off_the_wire() -> None:
    plain = dataclasses.replace(
        _sniffer(), health=dataclasses.replace(_sniffer().health, crc_failed=0, rssi_available=True)
    )
    health = json.loads(codec.encode(plain))["health"]
    assert "crc_failed" not in health and "rssi_available" not in health
    assert codec.decode(codec.encode(plain)) == plain


@pytest.mark.parametrize(("field", "value"), [("crc_failed", -1), ("crc_failed", 1.5),
                                              ("crc_failed", True), ("rssi_available", 0),
                                              ("rssi_available", "no")])  # fmt: skip
def test_bad_values_are_rejected(field: str, value: object) -> None:
    obj = json.loads((GOLDEN / "window-v1-sniffer.json").read_bytes())
    obj["health"][field] = value
    with pytest.raises(SchemaError) as e:
        codec.decode(json.dumps(obj).encode())
    assert e.value.reason == "bad_health"
