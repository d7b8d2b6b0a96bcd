"""Nothing lost, nothing twice: broker outage, scanner SIGKILL, aggregator SIGKILL (real processes).

The scanner is the installed `bzscan` replaying a capture in real time with 1 s windows (any
length that divides 900 s is valid), so a few seconds of outage span several windows.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.delivery.helpers import (
    BZAGG,
    BZSCAN,
    T0,
    OrderWatcher,
    Proc,
    outbox_rows,
    store_seqs,
    wait_until,
    write_jsonl_capture,
)
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
NODE = "node-a"


def scanner(
    cap: Path, broker: Mosquitto, outbox: Path, workdir: Path, name: str, *extra: str
) -> Proc:
    return Proc(
        [BZSCAN, "--replay", str(cap), "--window", "1", "--node", NODE, "--site", "site-1",
         "--broker", broker.url, "--outbox", str(outbox), "--no-progress", "--drain-timeout", "60",
         *extra],
        workdir, name,
    )  # fmt: skip


def aggregator(broker: Mosquitto, db: Path, workdir: Path, name: str) -> Proc:
    p = Proc([BZAGG, "serve", "--broker", broker.url, "--db", str(db)], workdir, name)
    p.wait_stderr("subscribed")
    return p


def assert_exactly_once_in_order(db: Path, outbox: Path, watcher: OrderWatcher) -> int:
    rows = outbox_rows(outbox)
    assert rows and all(sent for _, _, sent in rows), rows
    seqs = [s for s, _, _ in rows]
    assert seqs == list(range(len(seqs)))  # seq never reused, even across a SIGKILL
    starts = [w for _, w, _ in rows]
    assert starts == sorted(set(starts))  # one row per window, in window order
    wait_until(lambda: store_seqs(db, NODE) == seqs, 30, "every window in the store")
    wait_until(lambda: set(watcher.seqs(NODE)) >= set(seqs), 10, "the watcher to see all")
    assert watcher.first_arrivals(NODE) == seqs  # delivered in order
    return len(seqs)


def test_broker_outage_during_realtime_replay(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 14)
    db, outbox = tmp_path / "store.sqlite3", tmp_path / "outbox.sqlite3"
    watcher = OrderWatcher(mosquitto, tmp_path)
    agg = aggregator(mosquitto, db, tmp_path, "agg")
    scan = scanner(cap, mosquitto, outbox, tmp_path, "scan", "--realtime")
    try:
        wait_until(lambda: len(store_seqs(db, NODE)) >= 2, 20, "windows flowing")
        mosquitto.stop()
        time.sleep(4)  # about four 1 s windows closed while the broker is down
        held = [s for s, _, sent in outbox_rows(outbox) if not sent]
        assert len(held) >= 3
        mosquitto.start()
        assert scan.wait(60) == 0, scan.stderr()
        n = assert_exactly_once_in_order(db, outbox, watcher)
        assert n >= 12
        assert "publish:" in scan.stderr()  # the outage was noticed and logged
    finally:
        scan.kill()
        agg.terminate()
        watcher.stop()


def test_scanner_sigkill_with_a_backlog_then_restart(mosquitto: Mosquitto, tmp_path: Path) -> None:
    first = write_jsonl_capture(tmp_path / "first.jsonl", 10)
    second = write_jsonl_capture(tmp_path / "second.jsonl", 6, t0=T0 + 10)
    db, outbox = tmp_path / "store.sqlite3", tmp_path / "outbox.sqlite3"
    watcher = OrderWatcher(mosquitto, tmp_path)
    agg = aggregator(mosquitto, db, tmp_path, "agg")
    mosquitto.stop()
    scan = scanner(first, mosquitto, outbox, tmp_path, "scan1", "--realtime")
    try:
        wait_until(lambda: outbox.exists() and len(outbox_rows(outbox)) >= 4, 20, "a backlog")
        scan.kill()  # SIGKILL with every window still unsent
        backlog = outbox_rows(outbox)
        assert backlog and not any(sent for _, _, sent in backlog)
        mosquitto.start()
        scan = scanner(second, mosquitto, outbox, tmp_path, "scan2")
        assert scan.wait(60) == 0, scan.stderr()
        n = assert_exactly_once_in_order(db, outbox, watcher)
        assert n >= len(backlog) + 5
    finally:
        scan.kill()
        agg.terminate()
        watcher.stop()


def test_aggregator_sigkill_while_windows_flow(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 12)
    db, outbox = tmp_path / "store.sqlite3", tmp_path / "outbox.sqlite3"
    watcher = OrderWatcher(mosquitto, tmp_path)
    agg = aggregator(mosquitto, db, tmp_path, "agg1")
    scan = scanner(cap, mosquitto, outbox, tmp_path, "scan", "--realtime")
    try:
        wait_until(lambda: len(store_seqs(db, NODE)) >= 2, 20, "windows flowing")
        agg.kill()
        time.sleep(3)  # windows keep arriving at the broker for our persistent session
        agg = aggregator(mosquitto, db, tmp_path, "agg2")
        assert scan.wait(60) == 0, scan.stderr()
        n = assert_exactly_once_in_order(db, outbox, watcher)
        assert n >= 10
    finally:
        scan.kill()
        agg.terminate()
        watcher.stop()
