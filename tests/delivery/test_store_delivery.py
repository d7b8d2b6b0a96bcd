"""Store bookkeeping for end-to-end delivery: acks, conflicts, clock skew, write causes."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from aggregator.ingest.serve import node_alerts, node_table
from aggregator.ingest.subscribe import IngestStats, ingest_batch
from aggregator.store.interface import Reject
from aggregator.store.sqlite import Store
from aggregator.store.sqlite_schema import SCHEMA_VERSION
from scanner.wire.codec import encode, with_seq
from scanner.wire.topics import window_topic
from tests.delivery.helpers import T0, window


def test_highest_contiguous_seq_counts_only_an_unbroken_run_from_zero(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3", clock=lambda: 5.0)
    assert store.highest_contiguous_seq("n1") is None
    res = store.add_windows([window("n1", "s1", i, seq=i) for i in (1, 2, 4)])
    assert store.highest_contiguous_seq("n1") is None and res.acks == {}
    res = store.add_windows([window("n1", "s1", 0, seq=0)])
    assert store.highest_contiguous_seq("n1") == 2 and res.acks == {"n1": ("s1", 2)}
    store.add_windows([window("n1", "s1", 3, seq=3)])
    assert store.highest_contiguous_seq("n1") == 4
    store.close()


def test_a_rejected_window_with_a_seq_does_not_hold_the_ack(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3", clock=lambda: 5.0)
    bad = json.dumps({"v": 1, "seq": 1, "node": "n1", "bogus": True}).encode()
    store.add_windows(
        [window("n1", "s1", 0, seq=0), window("n1", "s1", 2, seq=2)],
        [Reject(window_topic("s1", "n1"), "unknown_field", "bogus", bad, 5.0)],
    )
    assert store.highest_contiguous_seq("n1") == 2
    store.close()


def test_same_key_other_counts_is_a_conflict_in_rejected_with_both_heads(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3", clock=lambda: 5.0)
    stats = IngestStats()
    topic = window_topic("s1", "n1")
    first = encode(with_seq(window("n1", "s1", 0), 0))
    other = dataclasses.replace(window("n1", "s1", 0), counts={"iphone": {"all": 9}})
    second = encode(with_seq(other, 1))
    ingest_batch(store, [(topic, first)], now=T0 + 100, keys=None, stats=stats)
    ingest_batch(store, [(topic, first), (topic, second)], now=T0 + 100, keys=None, stats=stats)
    # expected / stored / duplicated / conflicted / rejected
    assert (stats.received, stats.stored, stats.duplicates, stats.conflicts, stats.rejected) == (
        3, 1, 1, 1, 1,
    )  # fmt: skip
    assert stats.reasons == {"conflict": 1}
    ((reason, detail, head, stored_head),) = store._db.execute(
        "SELECT reason, detail, payload_head, stored_head FROM rejected"
    ).fetchall()
    assert reason == "conflict" and "seq 0" in detail and "seq 1" in detail
    assert head == second.decode()[:256] and stored_head == first.decode()[:256]
    assert store.highest_contiguous_seq("n1") == 1  # the conflict's seq is committed as data
    (row,) = node_table(tmp_path / "s.sqlite3", now=T0 + 100)
    assert row[11] == 1  # conflicts per node in `bzagg nodes`
    store.close()


def test_version_1_store_is_migrated_and_acks_backfilled(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path, clock=lambda: 5.0)
    store.add_windows([window("n1", "s1", i, seq=i) for i in range(3)])
    store.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE rejected_seqs; DROP INDEX windows_node_seq;"
        "ALTER TABLE nodes DROP COLUMN acked_seq; ALTER TABLE nodes DROP COLUMN conflicts;"
        "ALTER TABLE nodes DROP COLUMN skew_s; ALTER TABLE rejected DROP COLUMN stored_head;"
        "PRAGMA user_version = 1;"
    )
    db.close()
    store = Store(path)
    assert store._db.execute("PRAGMA user_version").fetchall()[0][0] == SCHEMA_VERSION
    assert store.highest_contiguous_seq("n1") == 2
    store.close()


def test_nodes_check_flags_missing_windows_and_clock_skew(tmp_path: Path) -> None:
    now = T0 + 10_000.0
    store = Store(tmp_path / "s.sqlite3", clock=lambda: now)
    live = dataclasses.replace(
        window("n2", "s1", 0, seq=0),
        health=dataclasses.replace(window("n2", "s1", 0).health, mode="passive"),
    )
    store.add_windows([window("n1", "s1", 1, seq=1), live])
    store.close()
    rows = node_table(tmp_path / "s.sqlite3", now=now + 7200)
    alerts = node_alerts(rows, max_unconfirmed_s=3600, max_skew_s=300)
    assert len(alerts) == 2
    assert "node n1" in alerts[0] and "waited 7200 s" in alerts[0]
    assert "node n2" in alerts[1] and "clock" in alerts[1]
    assert node_alerts(rows, max_unconfirmed_s=8000, max_skew_s=1e9) == []


def test_page_cache_is_sqlites_default_unless_asked_for(tmp_path: Path) -> None:
    # A bigger cache fills as the store grows (memory the soak holds to 10 %): asked for only.
    default, big = Store(tmp_path / "a.sqlite3"), Store(tmp_path / "b.sqlite3", cache_mb=64)
    try:
        assert default._db.execute("PRAGMA cache_size").fetchone()[0] == -2048
        assert big._db.execute("PRAGMA cache_size").fetchone()[0] == -65536
    finally:
        default.close()
        big.close()
