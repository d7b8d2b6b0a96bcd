"""The aggregator store: idempotent windows, rejects, nodes with seq gaps, the read API."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from aggregator.store.sqlite import SCHEMA_VERSION, Reject, Store, StoreError, payload_head
from scanner.wire.codec import to_dict
from scanner.wire.schema import Health, WindowReport
from tests.delivery.helpers import T0, window


def test_duplicate_window_is_a_counted_no_op(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3", clock=lambda: 5.0)
    first = store.add_windows([window("n1", "s1", i, seq=i) for i in range(3)])
    again = store.add_windows([window("n1", "s1", 1, seq=1), window("n1", "s1", 3, seq=3)])
    assert (first.stored, first.duplicates) == (3, 0)
    assert (again.stored, again.duplicates) == (1, 1)
    assert store.windows_count() == 4 and store.duplicates == 1
    (node,) = store.node_rows()
    assert node[0] == "n1" and node[6] == 3 and node[7] == 4 and node[9] == 1
    store.close()


def test_flat_columns_and_canonical_payload(tmp_path: Path) -> None:
    r = WindowReport(
        node="n1", site="s1", seq=7, window_start=T0, window_s=60,
        counts={"bluezone": {"android": 2, "ios_fg": 3, "ios_bg": 4}, "iphone": {"a": 5, "b": 1},
                "phone": {"samsung": 6}, "other": {"x": 7}},
        slot_counts={"bluezone": {"android": 9}},
        health=Health(scanned_s=58.5, adverts=321, mode="passive", restarts=2, clock_synced=True,
                      below_gate=11),
        headcount=40,
    )  # fmt: skip
    store = Store(tmp_path / "s.sqlite3", clock=lambda: 5.0)
    assert store.insert(r) and not store.insert(r)
    row = store.query(
        "SELECT window_start, window_s, seq, received_at, bz_android, bz_ios_fg, bz_ios_bg, "
        "bz_slot_android, iphone, phone, other, headcount, scanned_s, adverts, clock_synced, mode, "
        "restarts, below_gate, payload FROM windows"
    )[0]
    assert row[:-1] == (T0, 60, 7, 5.0, 2, 3, 4, 9, 6, 6, 7, 40, 58.5, 321, 1, "passive", 2, 11)
    assert json.loads(row[-1]) == to_dict(r)
    store.close()


def test_seq_gaps_open_and_close(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    store.add_windows([window("n1", "s1", i, seq=i) for i in (0, 1, 4)])
    assert store.node_rows()[0][8] == 2
    store.add_windows([window("n1", "s1", 2, seq=2)])
    assert store.node_rows()[0][8] == 1
    store.add_windows([window("n1", "s1", 3, seq=3), window("n1", "s1", 5, seq=5)])
    assert store.node_rows()[0][6:9] == (5, 6, 0)
    store.close()


def test_rejects_keep_reason_and_first_bytes(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    store.add_rejects([
        Reject("bzaudit/v1/s1/n1/window", "bad_json", "Expecting value", b"x" * 1000, 1.0),
        Reject("bzaudit/v1/s1/n1/window", "bad_json", "", b"\xff\x00binary", 2.0),
    ])  # fmt: skip
    rows = store.rejected_rows()
    assert [r[3] for r in rows] == ["bad_json", "bad_json"]
    assert rows[0][5] == "x" * 256
    assert rows[1][5] == "hex:" + b"\xff\x00binary".hex()
    assert payload_head(b"ok\n") == "hex:6f6b0a"
    store.set_status("s1", "n1", "online")
    assert store.node_rows()[0][4] == "online" and store.node_rows()[0][10] == 2
    store.close()


def test_read_api_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    store.add_windows([window("n1", "s1", i, seq=i) for i in range(25)])
    it = store.iter_query("SELECT seq FROM windows WHERE node = ? ORDER BY seq", ("n1",), chunk=4)
    assert [r[0] for r in it] == list(range(25))
    assert store.query("SELECT COUNT(*) FROM windows WHERE site = :s", {"s": "s1"}) == [(25,)]
    plan = " ".join(str(r) for r in store.query(
        "EXPLAIN QUERY PLAN SELECT * FROM windows WHERE site = 's1' AND window_start > 0"
    ))  # fmt: skip
    assert "windows_site_start" in plan
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema 99"):
        Store(path)
