"""End-to-end acknowledgement: a broker that loses the aggregator's queued session loses nothing.

The broker's PUBACK only means "in flight"; the node keeps every window until the aggregator's
retained ack on `bzaudit/v1/<site>/<node>/ack` confirms it, and re-sends what stays unconfirmed.
Real processes: the installed `bzscan` and `bzagg serve` against a real Mosquitto.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.delivery.helpers import (
    BZAGG,
    BZSCAN,
    Proc,
    outbox_rows,
    store_seqs,
    wait_until,
    write_jsonl_capture,
)
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
NODE = "node-a"
# Short re-send timeout so a lost window comes back within the test.
RESEND = ["--resend-after", "2"]


def _scanner(cap: Path, broker: Mosquitto, outbox: Path, workdir: Path) -> Proc:
    return Proc(
        [BZSCAN, "--replay", str(cap), "--window", "1", "--node", NODE, "--site", "site-1",
         "--broker", broker.url, "--outbox", str(outbox), "--no-progress",
         "--drain-timeout", "60", *RESEND],
        workdir, "scan",
    )  # fmt: skip


def _aggregator(broker: Mosquitto, db: Path, workdir: Path, name: str) -> Proc:
    p = Proc([BZAGG, "serve", "--broker", broker.url, "--db", str(db)], workdir, name)
    p.wait_stderr("subscribed")
    return p


def _lose_the_queue(tmp_path: Path, broker: Mosquitto, lose: str) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 20)
    db, outbox = tmp_path / "store.sqlite3", tmp_path / "outbox.sqlite3"
    agg = _aggregator(broker, db, tmp_path, "agg1")
    agg.kill()  # its persistent session now queues at the broker, and only there
    scan = _scanner(cap, broker, outbox, tmp_path)
    try:
        wait_until(
            lambda: outbox.exists() and len(outbox_rows(outbox)) == 20
            and all(sent for _, _, sent in outbox_rows(outbox)),
            30, "every window PUBACKed by the broker",
        )  # fmt: skip
        if lose == "restart":
            broker.stop()  # persistence false: the queued session is gone
        else:
            broker.kill()  # inside autosave_interval: nothing of it was saved
        broker.start()
        agg = _aggregator(broker, db, tmp_path, "agg2")
        assert scan.wait(60) == 0, scan.stderr()
        expected = [s for s, _, _ in outbox_rows(outbox)]
        assert expected == list(range(20))
        wait_until(lambda: store_seqs(db, NODE) == expected, 30, "every window stored")
        stored = store_seqs(db, NODE)
        # expected / stored / duplicated / rejected
        assert (len(expected), len(stored), len(stored) - len(set(stored))) == (20, 20, 0)
        assert _rejected(db) == 0
    finally:
        scan.kill()
        agg.terminate()


def _rejected(db: Path) -> int:
    import sqlite3

    con = sqlite3.connect(db, timeout=10)
    try:
        return int(con.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])
    finally:
        con.close()


def test_broker_restart_without_persistence_loses_nothing(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mqtt", persistence=False)
    broker.start()
    try:
        _lose_the_queue(tmp_path, broker, "restart")
    finally:
        broker.stop()


def test_broker_sigkill_inside_autosave_interval_loses_nothing(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "mqtt", autosave_s=60)
    broker.start()
    try:
        _lose_the_queue(tmp_path, broker, "kill")
    finally:
        broker.stop()
