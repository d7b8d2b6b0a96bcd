"""The node outbox: seq survives restarts, FIFO of payload bytes, bounded without silent loss."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest

from scanner.node.outbox import Outbox, OutboxError
from scanner.wire.codec import decode, encode, to_dict, with_seq
from scanner.wire.topics import window_topic
from tests.delivery.helpers import window


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_seq_is_assigned_durably_and_continues_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    ob = Outbox(path)
    assert [ob.put(window("n1", "s1", i, seq=999)) for i in range(3)] == [0, 1, 2]
    ob.confirm_through(2)  # the aggregator committed 0..2
    ob.close()
    ob = Outbox(path, retention_s=0)  # prunes every confirmed row on the next put
    assert ob.next_seq() == 3
    assert ob.put(window("n1", "s1", 3)) == 3
    assert [s for s, _, _ in ob.all_payloads()] == [3]
    ob.close()
    # Even with every row pruned, seq never goes back.
    ob = Outbox(path, retention_s=0)
    ob.confirm_through(3)
    ob.prune()
    assert ob.stats().rows == 0 and ob.next_seq() == 4
    ob.close()


def test_pending_is_oldest_first_and_holds_exactly_the_encoded_payload(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite3", key=b"k" * 32)
    for i in range(5):
        ob.put(window("n1", "s1", i))
    ob.mark_sent_many([1])
    rows = ob.pending(10)
    assert [s for s, _, _ in rows] == [0, 2, 3, 4]
    _, topic, payload = rows[1]
    assert topic == window_topic("s1", "n1")
    assert payload == encode(with_seq(window("n1", "s1", 2), 2), key=b"k" * 32)
    assert decode(payload, key=b"k" * 32).seq == 2
    assert ob.pending(2) == rows[:2]
    ob.close()


def test_rows_hold_counts_only(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    ob = Outbox(path)
    ob.put(window("n1", "s1", 0))
    ob.close()
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("PRAGMA table_info(outbox)")]
    assert cols == [
        "seq", "topic", "payload", "window_start", "created_at", "sent_at", "acked_at"
    ]  # fmt: skip
    (payload,) = db.execute("SELECT payload FROM outbox").fetchone()
    assert set(json.loads(payload)) == set(to_dict(window("n1", "s1", 0)))
    db.close()


def test_retention_prunes_confirmed_rows_only(tmp_path: Path) -> None:
    clock = Clock()
    ob = Outbox(tmp_path / "o.sqlite3", retention_s=3600, clock=clock)
    for i in range(4):
        ob.put(window("n1", "s1", i))
    ob.confirm_through(0)
    ob.mark_sent_many([1])  # PUBACKed only: in flight, kept until the aggregator confirms it
    clock.t += 7200
    ob.prune()
    assert [s for s, _, _ in ob.all_payloads()] == [1, 2, 3]
    assert ob.stats().unsent == 2 and ob.stats().unconfirmed == 3
    ob.close()


def test_cap_drops_confirmed_rows_first(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite3", max_rows=3)
    for i in range(3):
        ob.put(window("n1", "s1", i))
    ob.confirm_through(1)
    ob.put(window("n1", "s1", 3))
    ob.put(window("n1", "s1", 4))
    assert [s for s, _, _ in ob.all_payloads()] == [2, 3, 4]
    assert ob.dropped() == 0
    ob.close()


def test_cap_on_unsent_rows_is_loud_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.sqlite3"
    ob = Outbox(path, max_rows=3)
    with caplog.at_level(logging.ERROR, logger="scanner.node.outbox"):
        for i in range(5):
            ob.put(window("n1", "s1", i))
    assert ob.dropped() == 2
    assert [s for s, _, _ in ob.pending(10)] == [2, 3, 4]
    assert sum("UNSENT" in r.getMessage() for r in caplog.records) == 2
    ob.close()
    assert Outbox(path, max_rows=3).dropped() == 2  # the counter survives restarts


def test_not_an_outbox(tmp_path: Path) -> None:
    bad = tmp_path / "junk.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError, match="not a usable outbox"):
        Outbox(bad)
    with pytest.raises(OutboxError):
        Outbox(tmp_path / "missing.sqlite3", readonly=True)


def test_in_flight_rows_are_resent_after_the_timeout_until_confirmed(tmp_path: Path) -> None:
    clock = Clock()
    ob = Outbox(tmp_path / "o.sqlite3", clock=clock)
    for i in range(3):
        ob.put(window("n1", "s1", i))
    ob.mark_sent_many([0, 1, 2])  # PUBACK: in flight
    assert ob.pending(10, resend_before=clock.t - 60) == []
    clock.t += 61
    assert [s for s, _, _ in ob.pending(10, resend_before=clock.t - 60)] == [0, 1, 2]
    assert ob.confirm_through(1) == 2
    assert [s for s, _, _ in ob.pending(10, resend_before=clock.t - 60)] == [2]
    assert ob.unconfirmed() == (1, clock.t - 61)
    ob.close()


def test_a_rerun_keeps_rows_and_seqs_of_windows_already_held(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    ob = Outbox(path)
    assert [ob.put(window("n1", "s1", i)) for i in range(3)] == [0, 1, 2]
    ob.close()
    ob = Outbox(path)  # the replay runs again over the same capture after a crash
    assert [ob.put(window("n1", "s1", i)) for i in range(5)] == [0, 1, 2, 3, 4]
    rows = [(s, json.loads(p)["window_start"]) for s, _, p in ob.all_payloads()]
    assert [s for s, _ in rows] == [0, 1, 2, 3, 4]  # no duplicate rows, no seq burnt
    assert len({w for _, w in rows}) == 5
    ob.close()


def test_version_1_outbox_is_migrated_sent_rows_count_as_confirmed(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT "
        "NULL, window_start INTEGER NOT NULL, created_at REAL NOT NULL, sent_at REAL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "PRAGMA user_version = 1;"
    )
    for i in range(2):
        payload = encode(with_seq(window("n1", "s1", i), i))
        sent = None if i else 1.0
        db.execute("INSERT INTO outbox VALUES (?, 't', ?, ?, 0, ?)", (i, payload, i, sent))
    db.commit()
    db.close()
    ob = Outbox(path)
    assert ob.stats().unconfirmed == 1 and ob.next_seq() == 2
    ob.close()
