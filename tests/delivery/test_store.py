"""The aggregator store, run against every backend: idempotent windows, rejects, nodes with seq
gaps, statuses, the highest contiguous seq, the typed read API."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from aggregator.store import open_store as open_store
from aggregator.store.interface import Reject, StoreError
from aggregator.store.rows import payload_head
from aggregator.store.sqlite import Store
from aggregator.store.sqlite_schema import SCHEMA_VERSION
from scanner.wire.codec import to_dict
from scanner.wire.schema import Health, WindowReport
from tests.delivery.helpers import T0, window
from tests.mosquitto import free_port
from tests.postgres import Postgres
from tests.stores import MakeStore


def test_duplicate_window_is_a_counted_no_op(make_store: MakeStore) -> None:
    store = make_store(clock=lambda: 5.0)
    first = store.add_windows([window("n1", "s1", i, seq=i) for i in range(3)])
    again = store.add_windows([window("n1", "s1", 1, seq=1), window("n1", "s1", 3, seq=3)])
    assert (first.stored, first.duplicates) == (3, 0)
    assert (again.stored, again.duplicates) == (1, 1)
    assert store.windows_count() == 4 and store.duplicates == 1
    (node,) = store.nodes()
    assert (node.node, node.last_seq, node.windows, node.duplicates) == ("n1", 3, 4, 1)
    assert node.first_seen == node.last_seen == 5.0
    store.close()


def test_flat_columns_and_canonical_payload(make_store: MakeStore) -> None:
    r = WindowReport(
        node="n1", site="s1", seq=7, window_start=T0, window_s=60,
        counts={"bluezone": {"android": 2, "ios_fg": 3, "ios_bg": 4}, "iphone": {"a": 5, "b": 1},
                "phone": {"samsung": 6}, "other": {"x": 7}},
        slot_counts={"bluezone": {"android": 9}},
        health=Health(scanned_s=58.5, adverts=321, mode="passive", restarts=2, clock_synced=True,
                      below_gate=11),
        headcount=40,
    )  # fmt: skip
    store = make_store(clock=lambda: 5.0)
    assert store.insert(r) and not store.insert(r)
    (w,) = store.windows()
    assert (w.node, w.site, w.window_start, w.window_s, w.seq, w.received_at) == (
        "n1", "s1", T0, 60, 7, 5.0
    )  # fmt: skip
    assert (w.bz_android, w.bz_ios_fg, w.bz_ios_bg, w.bz_slot_android) == (2, 3, 4, 9)
    assert (w.iphone, w.phone, w.other, w.headcount, w.scanned_s, w.adverts) == (
        6, 6, 7, 40, 58.5, 321
    )  # fmt: skip
    assert (w.clock_synced, w.mode, w.restarts, w.below_gate) == (1, "passive", 2, 11)
    assert json.loads(w.payload) == to_dict(r)
    store.close()


def test_seq_gaps_open_and_close(make_store: MakeStore) -> None:
    store = make_store()
    store.add_windows([window("n1", "s1", i, seq=i) for i in (0, 1, 4)])
    assert store.nodes()[0].seq_gaps == 2
    store.add_windows([window("n1", "s1", 2, seq=2)])
    assert store.nodes()[0].seq_gaps == 1
    store.add_windows([window("n1", "s1", 3, seq=3), window("n1", "s1", 5, seq=5)])
    n = store.nodes()[0]
    assert (n.last_seq, n.windows, n.seq_gaps) == (5, 6, 0)
    store.close()


def test_highest_contiguous_seq(make_store: MakeStore) -> None:
    store = make_store()
    assert store.highest_contiguous_seq("n1") is None
    store.add_windows([window("n1", "s1", i, seq=i) for i in (1, 2)])
    assert store.highest_contiguous_seq("n1") is None  # seq 0 not stored yet
    store.add_windows([window("n1", "s1", i, seq=i) for i in (0, 4, 5)])
    assert store.highest_contiguous_seq("n1") == 2
    store.add_windows([window("n1", "s1", 3, seq=3), window("n2", "s1", 0, seq=0)])
    assert store.highest_contiguous_seq("n1") == 5
    assert store.highest_contiguous_seq("n2") == 0
    store.close()


def test_ack_counts_rejected_seqs_and_conflicts_on_both_backends(make_store: MakeStore) -> None:
    store = make_store()
    first = store.add_windows([window("n1", "s1", 0, seq=0)])
    assert first.acks == {"n1": ("s1", 0)}
    bad = json.dumps({"seq": 1, "v": 1, "node": "n1"}).encode()
    store.add_rejects([Reject("bzaudit/v1/s1/n1/window", "bad_signature", "", bad, 1.0)])
    assert store.highest_contiguous_seq("n1") == 1  # a rejection naming seq 1 counts
    other = window("n1", "s1", 0, seq=2, window_s=30)  # same key, other counts
    result = store.add_windows([other, window("n1", "s1", 3, seq=3)])
    assert (result.stored, result.duplicates, result.conflicts) == (1, 0, 1)
    assert result.acks == {"n1": ("s1", 3)}
    (conflict,) = [r for r in store.rejects() if r.reason == "conflict"]
    assert "already stored as seq 0" in conflict.detail
    ((node, acked, conflicts, _skew, _oldest),) = store.node_delivery_rows()
    assert (node, acked, conflicts) == ("n1", 3, 1)
    store.check_writable()
    store.close()


def test_one_key_twice_in_one_batch_keeps_the_first_on_both_backends(
    make_store: MakeStore,
) -> None:
    store = make_store()
    first, again = window("n1", "s1", 0, seq=0), window("n1", "s1", 0, seq=0)
    other = window("n1", "s1", 0, seq=1, window_s=30)  # same key, other counts
    result = store.add_windows([first, again, other, window("n1", "s1", 2, seq=2)])
    # expected 4: stored 2, duplicated 1, conflicted 1
    assert (result.stored, result.duplicates, result.conflicts) == (2, 1, 1)
    assert [(w.window_start, w.seq, w.window_s) for w in store.windows()] == [
        (first.window_start, 0, 60), (first.window_start + 120, 2, 60)]  # fmt: skip
    assert [r.reason for r in store.rejects()] == ["conflict"]
    assert store.highest_contiguous_seq("n1") == 2
    store.close()


def test_rejects_keep_reason_and_first_bytes(make_store: MakeStore) -> None:
    store = make_store()
    store.add_rejects([
        Reject("bzaudit/v1/s1/n1/window", "bad_json", "Expecting value", b"x" * 1000, 1.0),
        Reject("bzaudit/v1/s1/n1/window", "bad_json", "", b"\xff\x00binary", 2.0),
    ])  # fmt: skip
    rows = store.rejects()
    assert [r.reason for r in rows] == ["bad_json", "bad_json"]
    assert rows[0].payload_head == "x" * 256
    assert rows[1].payload_head == "hex:" + b"\xff\x00binary".hex()
    assert rows[0].id < rows[1].id and rows[1].received_at == 2.0
    assert payload_head(b"ok\n") == "hex:6f6b0a"
    store.set_status("s1", "n1", "online")
    (node,) = store.nodes()
    assert node.status == "online" and node.rejected == 2
    store.close()


def test_status_last_writer_wins_on_time_received(make_store: MakeStore) -> None:
    """Several aggregators all receive a node's statuses; a late writer of an older one must
    not roll the status back."""
    store = make_store()
    store.add_windows([], statuses=[("s1", "n1", "online", 10.0)])
    store.add_windows([], statuses=[("s1", "n1", "offline", 20.0)])
    store.add_windows([], statuses=[("s1", "n1", "online", 15.0)])  # older, written later
    (node,) = store.nodes()
    assert (node.status, node.status_at) == ("offline", 20.0)
    store.close()


def test_site_counts_and_windows_by_node(make_store: MakeStore) -> None:
    store = make_store()
    store.add_windows([window("n1", "s1", i, seq=i) for i in range(25)])
    store.add_windows([window("n2", "s2", i, seq=i) for i in range(3)])
    assert [w.seq for w in store.windows("n1")] == list(range(25))
    assert store.site_counts() == [("s1", 25), ("s2", 3)]
    assert store.windows_count() == 28
    store.close()


def test_sqlite_index_wal_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    plan = " ".join(str(r) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM windows WHERE site = 's1' AND window_start > 0"
    ))  # fmt: skip
    assert "windows_site_start" in plan
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema 99") as err:
        Store(path)
    assert err.value.where == str(path)


def test_postgres_migrations_are_versioned_and_idempotent(postgres: Postgres) -> None:
    """Several aggregators start at once on a new database: the schema is made once."""
    import psycopg

    from aggregator.store.postgres import SCHEMA_VERSION as PG_VERSION
    from aggregator.store.postgres import PgStore

    url = postgres.new_database()
    stores: list[PgStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            stores.append(PgStore(url))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(stores) == 4
    stores[0].add_windows([window("n1", "s1", 0, seq=0)])
    assert [s.windows_count() for s in stores] == [1, 1, 1, 1]
    for s in stores:
        s.close()
    with psycopg.connect(url, autocommit=True) as con:
        assert con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()[
            -1
        ] == (PG_VERSION,)
        con.execute("INSERT INTO schema_migrations (version) VALUES (99)")
    with pytest.raises(StoreError, match="schema 99"):
        PgStore(url)


def test_postgres_url_through_the_cli(postgres: Postgres, tmp_path: Path) -> None:
    """`--db postgresql://…` (and `--store`) for nodes and report; an unreachable server
    fails with exit 1 and no traceback."""
    from click.testing import CliRunner

    from aggregator.cli.main import main

    url = postgres.new_database()
    store = open_store(url)
    store.add_windows([window("n1", "s1", i, seq=i) for i in range(3)])
    store.close()
    res = CliRunner().invoke(main, ["nodes", "--store", url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["windows"] == 3
    res = CliRunner().invoke(main, ["report", "--db", url, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["total"]["windows"] == 3
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    res = CliRunner().invoke(main, ["nodes", "--db", dead])
    assert res.exit_code == 1 and "cannot open the store" in res.output


def test_batch_acks_follow_gaps_and_runs_longer_than_one_step(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.store import pg_schema

    # PostgreSQL advances acks ACK_STEP seqs at a time: a step of 4 makes a run of 10 take three.
    monkeypatch.setattr(pg_schema, "ADVANCE_ACKS", pg_schema.ADVANCE_ACKS.replace(
        f"LIMIT {pg_schema.ACK_STEP}", "LIMIT 4"))  # fmt: skip
    monkeypatch.setattr(pg_schema, "ACK_STEP", 4)
    store = make_store()
    gap = store.add_windows([window("n1", "s1", i, seq=i) for i in range(10) if i != 3])
    assert gap.acks == {"n1": ("s1", 2)}
    filled = store.add_windows([window("n1", "s1", 3, seq=3), window("n2", "s1", 5, seq=5)])
    assert filled.acks == {"n1": ("s1", 9)}  # n2 has no seq 0: nothing to confirm yet
    assert store.highest_contiguous_seq("n1") == 9
    assert store.add_windows([window("n1", "s1", 10, seq=10)]).acks == {"n1": ("s1", 10)}
    store.close()
