"""The Pi memory check (bench/pi_memory.py) on a small 30-minute scene, under MemoryMax."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.fakebluez.fixtures import _need_dbus

pytestmark = [pytest.mark.bluez, pytest.mark.slow]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "pi_memory.py"


def test_bzscan_live_with_outbox_stays_under_memory_max() -> None:
    _need_dbus()
    spec = importlib.util.spec_from_file_location("pi_memory", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    r = bench.measure(devices=40, minutes=30, speed=90, mode="passive")
    limit = bench.memory_max_mb()
    print(f"bzscan peak RSS {r['rss_peak_mb']:.1f} MB, MemoryMax {limit:.0f} MB")
    assert r["windows"] >= 30  # every minute of the scene reached the outbox
    assert r["sent"] > 10_000
    assert r["rss_peak_mb"] < limit
