"""What the dashboard reads from the store, on every backend: a read-only opening that cannot
write, the change token it polls, rejects counted by (topic, reason), each node's latest clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from aggregator.store import open_store
from aggregator.store.interface import NodeClock, Reject, RejectCount, StoreError
from tests.delivery.helpers import window
from tests.stores import store_target

TOPIC = "bzaudit/v1/s1/n1/window"


def test_read_only_store_reads_and_cannot_write(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = store_target(store_backend, request, tmp_path)
    writer = open_store(target)
    ro = None
    try:
        writer.add_windows([window("n1", "s1", i, seq=i) for i in range(3)])
        ro = open_store(target, read_only=True)
        assert ro.windows_count() == 3 and [n.node for n in ro.nodes()] == ["n1"]
        with pytest.raises(StoreError):
            ro.add_windows([window("n1", "s1", 9, seq=9)])
        with pytest.raises(StoreError):
            ro.set_status("s1", "n1", "online")
        assert writer.windows_count() == 3
    finally:
        writer.close()
        if ro is not None:
            ro.close()


def test_read_only_needs_an_existing_store(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = store_target(store_backend, request, tmp_path)  # nothing created there yet
    with pytest.raises(StoreError) as err:
        open_store(target, read_only=True)
    assert err.value.where


def test_data_version_moves_when_another_connection_commits(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = store_target(store_backend, request, tmp_path)
    writer = open_store(target)
    ro = open_store(target, read_only=True)
    try:
        before = ro.data_version()
        writer.add_windows([window("n1", "s1", 0, seq=0)])
        after = ro.data_version()
        assert after != before
        writer.set_status("s1", "n1", "online")
        assert ro.data_version() != after
        writer.add_rejects([Reject(TOPIC, "bad_json", "", b"x", 3.0)])
        assert ro.data_version() != after
    finally:
        writer.close()
        ro.close()


def test_reject_counts_and_node_clocks(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = open_store(store_target(store_backend, request, tmp_path))
    try:
        store.add_rejects([
            Reject(TOPIC, "bad_json", "", b"x", 1.0),
            Reject(TOPIC, "bad_json", "", b"y", 4.0),
            Reject(TOPIC, "bad_signature", "", b"z", 2.0),
            Reject("elsewhere", "bad_topic", "", b"", 3.0),
        ])  # fmt: skip
        assert store.reject_counts() == [
            RejectCount(TOPIC, "bad_json", 2, 4.0),
            RejectCount(TOPIC, "bad_signature", 1, 2.0),
            RejectCount("elsewhere", "bad_topic", 1, 3.0),
        ]
        w0, w1 = window("n1", "s1", 0, seq=0), window("n1", "s1", 1, seq=1)
        late = dataclasses.replace(w1, health=dataclasses.replace(w1.health, clock_synced=False))
        store.add_windows([w0, late, window("n2", "s1", 0, seq=0)])
        store.set_status("s2", "n3", "offline")  # a node with a status but no window yet
        clocks = {c.node: c for c in store.node_clocks()}
        assert clocks["n1"] == NodeClock("n1", False, late.window_start + late.window_s)
        assert clocks["n2"] == NodeClock("n2", None, w0.window_start + w0.window_s)
        assert clocks["n3"] == NodeClock("n3", None, None)
    finally:
        store.close()
