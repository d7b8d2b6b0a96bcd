"""Node-side wiring: the outbox's drop counter reaches later windows; status online and the Last
Will `offline` reach the aggregator's nodes table."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from scanner.cli.replay import replay_delivered
from scanner.node.delivery import DeliveryOptions
from scanner.node.run_replay import RunOptions
from tests.delivery.helpers import BZAGG, BZSCAN, Proc, wait_until, write_jsonl_capture
from tests.mosquitto import Mosquitto


def test_dropped_unsent_windows_are_reported_in_later_health(tmp_path: Path) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 30)
    outbox = tmp_path / "o.sqlite3"
    opts = RunOptions(node="node-a", site="site-1", window_s=5, replay=cap, progress=False)
    # No broker and a cap of 2 rows: the outbox must drop unsent windows, loudly.
    asyncio.run(replay_delivered(opts, DeliveryOptions("node-a", "site-1", outbox, max_rows=2)))
    con = sqlite3.connect(outbox)
    rows = [(s, json.loads(p)) for s, p in con.execute("SELECT seq, payload FROM outbox")]
    con.close()
    assert [s for s, _ in rows] == [4, 5]
    assert [p["health"]["outbox_dropped"] for _, p in rows] == [2, 3]


def status(db: Path) -> str | None:
    if not db.exists():
        return None
    con = sqlite3.connect(db, timeout=10)
    try:
        row = con.execute("SELECT status FROM nodes WHERE node = 'node-a'").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()
    return None if row is None else str(row[0])


@pytest.mark.mqtt
def test_status_online_then_last_will_offline(mosquitto: Mosquitto, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    agg = Proc([BZAGG, "serve", "--broker", mosquitto.url, "--db", str(db)], tmp_path, "agg")
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 20)
    scan = Proc(
        [BZSCAN, "--replay", str(cap), "--realtime", "--window", "1", "--node", "node-a",
         "--site", "site-1", "--broker", mosquitto.url, "--outbox", str(tmp_path / "o.sqlite3"),
         "--no-progress"],
        tmp_path, "scan",
    )  # fmt: skip
    try:
        agg.wait_stderr("subscribed")
        wait_until(lambda: status(db) == "online", 20, "status online")
        scan.kill()  # SIGKILL: no clean `offline`, the broker publishes the Last Will
        wait_until(lambda: status(db) == "offline", 20, "Last Will offline")
    finally:
        scan.kill()
        agg.terminate()
