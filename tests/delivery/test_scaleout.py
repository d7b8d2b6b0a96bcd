"""Two `bzagg serve` on one MQTT shared subscription, one PostgreSQL: one is SIGKILLed while
windows flow; every window is stored exactly once, the survivor keeps consuming, and the
killed one restarts with its persistent session and rejoins the group."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from pathlib import Path

import aiomqtt

from aggregator.store import open_store
from scanner.wire.codec import encode
from scanner.wire.topics import ack_topic, decode_ack, window_topic
from tests.delivery.helpers import BZAGG, Proc, wait_until, window
from tests.mosquitto import Mosquitto
from tests.postgres import Postgres

NODES = 20
PER_NODE = 150  # 3,000 windows
RATE = 400.0  # windows/s: about 7.5 s of traffic


def _publisher(port: int, stop_after: int, done: threading.Event, sent: list[int]) -> None:
    msgs = [
        (window_topic("s1", f"n{k:02d}"), encode(window(f"n{k:02d}", "s1", i, seq=i)))
        for i in range(PER_NODE)
        for k in range(NODES)
    ][:stop_after]

    async def run() -> None:
        t0 = time.monotonic()
        async with aiomqtt.Client("127.0.0.1", port, identifier="pub", timeout=30) as c:
            for i in range(0, len(msgs), 20):
                await asyncio.sleep(max(0.0, t0 + i / RATE - time.monotonic()))
                await asyncio.gather(*(c.publish(t, p, qos=1) for t, p in msgs[i : i + 20]))
                sent[0] = i + 20

    asyncio.run(run())
    done.set()


def _acks(port: int) -> dict[str, int | None]:
    """The retained ack of every node, as a node reads it when it connects."""

    async def run() -> dict[str, int | None]:
        got: dict[str, int | None] = {}
        async with aiomqtt.Client("127.0.0.1", port, identifier="ack-reader", timeout=30) as c:
            await c.subscribe(ack_topic("s1", "+"), qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    async for m in c.messages:
                        node = str(m.topic).split("/")[-2]
                        got[node] = decode_ack(bytes(m.payload), node)  # type: ignore[arg-type]
                        if len(got) == NODES:
                            break
        return got

    return asyncio.run(run())


def _serve(tmp: Path, broker: Mosquitto, url: str, name: str) -> Proc:
    proc = Proc([BZAGG, "serve", "--broker", broker.url, "--db", url, "--share-group", "bzagg",
                 "--client-id", name, "--batch-max", "200"], tmp, name)  # fmt: skip
    proc.wait_stderr("subscribed", 30)
    return proc


def _stats(text: str) -> list[tuple[int, int]]:
    """(messages, windows stored) of every run in an aggregator's stderr."""
    found = re.findall(r"bzagg: (\d+) messages, (\d+) windows stored", text)
    return [(int(m), int(s)) for m, s in found]


def test_shared_subscription_survives_a_sigkill(
    mosquitto: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    url = postgres.new_database()
    open_store(url).close()  # schema once, before two instances race for it (they may too)
    a = _serve(tmp_path, mosquitto, url, "agg-a")
    b = _serve(tmp_path, mosquitto, url, "agg-b")
    store = open_store(url)
    done, sent = threading.Event(), [0]
    pub = threading.Thread(target=_publisher, args=(mosquitto.port, NODES * PER_NODE, done, sent))
    pub.start()
    try:
        wait_until(lambda: store.windows_count() >= 600, 30, "both aggregators storing")
        a.kill()  # SIGKILL: its unacknowledged windows stay in its persistent session
        at_kill = store.windows_count()
        wait_until(lambda: store.windows_count() >= at_kill + 400, 30, "the survivor storing")
        a = _serve(tmp_path, mosquitto, url, "agg-a")  # same client id: same session
        pub.join(60)
        assert done.is_set()
        total = NODES * PER_NODE
        wait_until(lambda: store.windows_count() == total, 60, "every window stored")
        time.sleep(1.0)  # nothing more arrives (no row is stored twice: the key forbids it)
        assert store.windows_count() == total
        for k in range(NODES):
            node = f"n{k:02d}"
            assert [w.seq for w in store.windows(node)] == list(range(PER_NODE))
            assert store.highest_contiguous_seq(node) == PER_NODE - 1
        nodes = {n.node: n for n in store.nodes()}
        assert sum(n.windows for n in nodes.values()) == total  # bookkeeping agrees across both
        assert all(n.seq_gaps == 0 and n.last_seq == PER_NODE - 1 for n in nodes.values())
        # Each node's ack, published by whichever instance committed its last batch, covers
        # every window both instances stored.
        assert _acks(mosquitto.port) == {f"n{k:02d}": PER_NODE - 1 for k in range(NODES)}
    finally:
        store.close()
        pub.join(60)
        assert a.terminate() == 0 and b.terminate() == 0
    a_runs, b_runs = _stats(a.stderr()), _stats(b.stderr())
    # The SIGKILLed run printed nothing; the restarted one received its share again.
    assert len(a_runs) == 1 and a_runs[0][0] > 0, a.stderr()[-2000:]
    assert len(b_runs) == 1 and b_runs[0][1] > 0
    stored = a_runs[0][1] + b_runs[0][1]
    print(f"restarted agg-a {a_runs[0]}, agg-b {b_runs[0]}, stored by those runs {stored}")
