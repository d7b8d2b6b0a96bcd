"""`bzagg serve --workers 2` into one SQLite file: a queued backlog and live windows are stored
exactly once, a worker killed with SIGKILL is restarted and its unacknowledged windows come
back, and workers whose parent was SIGKILLed stop by themselves."""

from __future__ import annotations

import re
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import pytest

from aggregator.store import open_store
from scanner.wire.codec import encode
from scanner.wire.topics import window_topic
from tests.delivery.helpers import BZAGG, Proc, wait_until, window
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt]
NODES, PER_NODE = 20, 200  # 4,000 windows


def _publish(port: int, msgs: list[tuple[str, bytes]]) -> None:
    acked = [0]
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pub")
    c.on_publish = lambda *_: acked.__setitem__(0, acked[0] + 1)
    c.max_inflight_messages_set(200)
    c.connect("127.0.0.1", port)
    for topic, payload in msgs:
        c.publish(topic, payload, qos=1)
        c.loop(0)
    deadline = time.monotonic() + 60
    while acked[0] < len(msgs) and time.monotonic() < deadline:
        c.loop(0.05)
    c.disconnect()
    assert acked[0] == len(msgs)


def _msgs(first: int, last: int) -> list[tuple[str, bytes]]:
    return [
        (window_topic("s1", f"n{k:02d}"), encode(window(f"n{k:02d}", "s1", i, seq=i)))
        for i in range(first, last)
        for k in range(NODES)
    ]


def _serve(tmp: Path, broker: Mosquitto, db: Path) -> Proc:
    proc = Proc([BZAGG, "serve", "--broker", broker.url, "--db", str(db), "--workers", "2",
                 "--client-id", "agg", "--batch-max", "100"], tmp, "agg")  # fmt: skip
    wait_until(lambda: proc.stderr().count("subscribed") >= 2, 30, "both workers subscribed")
    return proc


def _workers(proc: Proc) -> list[psutil.Process]:
    return psutil.Process(proc.p.pid).children()


def _stats(text: str) -> tuple[int, int, int]:
    """Sums of (messages, stored, duplicates) over every worker run in the stderr."""
    runs = re.findall(r"bzagg: (\d+) messages, (\d+) windows stored, (\d+) duplicates", text)
    return tuple(sum(int(r[i]) for r in runs) for i in range(3))  # type: ignore[return-value]


def test_workers_store_a_backlog_exactly_once_through_a_worker_kill(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite3"
    agg = _serve(tmp_path, mosquitto, db)
    assert agg.terminate() == 0  # the two sessions now exist, offline
    _publish(mosquitto.port, _msgs(0, PER_NODE // 2))  # the backlog, queued for them
    agg = _serve(tmp_path, mosquitto, db)
    store = open_store(db)
    try:
        _publish(mosquitto.port, _msgs(PER_NODE // 2, PER_NODE))  # and live windows
        wait_until(lambda: store.windows_count() >= 500, 30, "workers storing")
        victim = _workers(agg)[0]
        victim.kill()  # SIGKILL: the parent restarts it; its unacknowledged windows come back
        wait_until(lambda: "restarting it" in agg.stderr(), 10, "the parent noticing")
        wait_until(lambda: len(_workers(agg)) == 2, 10, "a new worker")
        total = NODES * PER_NODE
        wait_until(lambda: store.windows_count() == total, 60, "every window stored")
        for k in range(NODES):
            assert [w.seq for w in store.windows(f"n{k:02d}")] == list(range(PER_NODE))
        nodes = store.nodes()
        assert sum(n.windows for n in nodes) == total
        assert all(n.seq_gaps == 0 and n.last_seq == PER_NODE - 1 for n in nodes)
    finally:
        store.close()
        assert agg.terminate(30) == 0
    received, stored, dups = _stats(agg.stderr())
    # The SIGKILLed run printed nothing; every other run did. Windows it had stored but not
    # acknowledged came again to a worker and were counted as duplicates, not stored twice.
    assert stored <= total
    assert received >= stored + dups


def test_workers_stop_when_their_parent_is_killed(mosquitto: Mosquitto, tmp_path: Path) -> None:
    agg = _serve(tmp_path, mosquitto, tmp_path / "store.sqlite3")
    workers = _workers(agg)
    assert len(workers) == 2
    agg.kill()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [w.pid for w in alive]
