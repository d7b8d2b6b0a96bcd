"""`bzagg serve` on a store whose filesystem is read-only or full: it says so once, takes nothing
from the broker meanwhile (or keeps it unacknowledged), and recovers by itself (real tmpfs)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from aggregator.store.interface import StoreWriteError
from aggregator.store.sqlite import Store
from tests.delivery.helpers import (
    BZAGG,
    BZSCAN,
    Proc,
    store_seqs,
    wait_until,
    write_jsonl_capture,
)
from tests.delivery.volumes import Volume, small_volume
from tests.mosquitto import Mosquitto

__all__ = ["small_volume"]
NODE = "node-a"


def _scan(cap: Path, broker: Mosquitto, outbox: Path, workdir: Path, name: str) -> Proc:
    return Proc(
        [BZSCAN, "--replay", str(cap), "--window", "1", "--node", NODE, "--site", "site-1",
         "--broker", broker.url, "--outbox", str(outbox), "--no-progress",
         "--drain-timeout", "60", "--resend-after", "2"],
        workdir, name,
    )  # fmt: skip


def _counts(db: Path) -> tuple[int, int, int]:
    seqs = store_seqs(db, NODE)
    con = sqlite3.connect(db, timeout=10)
    try:
        rejected = int(con.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])
    finally:
        con.close()
    return len(seqs), len(seqs) - len(set(seqs)), rejected


@pytest.mark.mqtt
@pytest.mark.slow
def test_serve_started_on_a_read_only_store_recovers_by_itself(
    mosquitto: Mosquitto, small_volume: Volume, tmp_path: Path
) -> None:
    db = small_volume.path / "store.sqlite3"
    Store(db).close()
    small_volume.readonly()
    agg = Proc([BZAGG, "serve", "--broker", mosquitto.url, "--db", str(db)], tmp_path, "agg")
    scan = None
    try:
        agg.wait_stderr("cannot be written")
        assert "subscribed" not in agg.stderr()
        small_volume.writable()
        agg.wait_stderr("writable again")
        agg.wait_stderr("subscribed")
        assert agg.stderr().count("cannot be written") == 1  # once per state change, no flood
        scan = _scan(write_jsonl_capture(tmp_path / "v.jsonl", 8), mosquitto,
                     tmp_path / "o.sqlite3", tmp_path, "scan")  # fmt: skip
        assert scan.wait(60) == 0, scan.stderr()
        # expected / stored / duplicated / rejected
        assert _counts(db) == (8, 0, 0)
    finally:
        if scan is not None:
            scan.kill()
        agg.terminate()


@pytest.mark.mqtt
@pytest.mark.slow
def test_store_disk_filling_while_serving_logs_the_cause_once_and_catches_up(
    mosquitto: Mosquitto, small_volume: Volume, tmp_path: Path
) -> None:
    db = small_volume.path / "store.sqlite3"
    agg = Proc([BZAGG, "serve", "--broker", mosquitto.url, "--db", str(db)], tmp_path, "agg")
    scan = None
    try:
        agg.wait_stderr("subscribed")
        # A read-only remount is refused while serve holds the file open for writing, so the
        # fault injected under a running serve is the other one: no space left.
        small_volume.fill()
        scan = _scan(write_jsonl_capture(tmp_path / "v.jsonl", 8), mosquitto,
                     tmp_path / "o.sqlite3", tmp_path, "scan")  # fmt: skip
        agg.wait_stderr("cannot be written")
        wait_until(lambda: agg.stderr().count("retrying with backoff") >= 1, 10, "the log line")
        small_volume.free()
        assert scan.wait(60) == 0, scan.stderr()
        agg.wait_stderr("writable again after")
        err = agg.stderr()
        assert "disk full" in err  # the real cause, not a rollback error
        assert "no transaction is active" not in err
        assert err.count("cannot be written") <= 2  # one line per change of cause
        assert _counts(db) == (8, 0, 0)
    finally:
        if scan is not None:
            scan.kill()
        agg.terminate()


def test_disk_full_is_reported_as_disk_full_at_the_sqlite_level(tmp_path: Path) -> None:
    # SQLite-level simulation (runs without root): max_page_count makes the file "full".
    from tests.delivery.helpers import window

    store = Store(tmp_path / "s.sqlite3")
    pages = store._db.execute("PRAGMA page_count").fetchall()[0][0]
    store._db.execute(f"PRAGMA max_page_count = {pages}").fetchall()
    with pytest.raises(StoreWriteError) as info:
        for i in range(0, 2000, 50):
            store.add_windows([window("n1", "s1", i + j, seq=i + j) for j in range(50)])
    assert info.value.cause == "disk full"
    assert "no transaction is active" not in str(info.value)
    store._db.execute("PRAGMA max_page_count = 1073741823").fetchall()
    store.add_windows([window("n1", "s1", 5000, seq=5000)])  # writes again, same connection
    store.close()


def test_disk_full_on_a_real_small_volume_then_space_returns(
    small_volume: Volume, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.delivery.helpers import window

    store = Store(small_volume.path / "s.sqlite3")
    small_volume.fill()
    with caplog.at_level(logging.ERROR), pytest.raises(StoreWriteError) as info:
        for i in range(0, 5000, 100):
            store.add_windows([window("n1", "s1", i + j, seq=i + j) for j in range(100)])
    assert info.value.cause in ("disk full", "I/O error")
    small_volume.free()
    store.add_windows([window("n1", "s1", 9000, seq=9000)])
    store.close()


def test_checkpoint_policy_lets_a_2_mb_volume_fill_with_windows(tmp_path: Path) -> None:
    # A real 2 MB tmpfs: with SQLite's default (checkpoint every 1000 pages, ~4 MB of WAL) the
    # store stalled after ~70-110 one-window commits; with the policy it fills the volume.
    from tests.delivery.helpers import window
    from tests.delivery.volumes import mount_volume, unmount

    vol = mount_volume(tmp_path / "vol2", 2048)
    try:
        store = Store(vol.path / "s.sqlite3")
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchall()[0][0] == 256
        stored = 0
        with pytest.raises(StoreWriteError) as info:
            for i in range(20_000):
                store.add_windows([window("n1", "s1", i, seq=i)])
                stored += 1
        assert info.value.cause == "disk full"
        assert stored >= 1500, stored  # measured here: 1859
        assert (vol.path / "s.sqlite3-wal").stat().st_size <= 2 << 20
        store.close()
    finally:
        unmount(vol)
