"""paho's socket read ahead (aggregator/ingest/paho_tuning.py): recv served from one large read,
what is buffered reported by pending(), and a backlog drained through it without stalling, every
window stored once, in far fewer system calls than messages (real Mosquitto, real SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from aggregator.ingest import paho_tuning
from aggregator.ingest.paho_tuning import NoFilters, ReadAheadSocket
from aggregator.ingest.subscribe import Subscriber
from aggregator.store.sqlite import Store
from scanner.wire.broker import parse_broker_url
from scanner.wire.codec import encode
from scanner.wire.topics import window_topic
from tests.delivery.helpers import T0, window
from tests.delivery.test_workers import _publish
from tests.mosquitto import Mosquitto


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    return a, b


def test_recv_is_served_from_one_read_and_pending_counts_the_rest() -> None:
    a, b = _pair()
    sock = ReadAheadSocket(a)
    b.sendall(b"\x30\x05hello\x30\x02hi")
    assert sock.recv(1) == b"\x30"
    assert sock.pending() == 10  # in our buffer, no longer in the kernel's
    assert sock.recv(1) == b"\x05"
    assert sock.recv(5) == b"hello"
    assert sock.recv(100) == b"\x30\x02hi"  # a short read, as a socket's
    assert sock.pending() == 0
    with pytest.raises(BlockingIOError):
        sock.recv(1)
    b.sendall(b"abc")
    assert sock.recv(1 << 20) == b"abc"  # more asked than READ_BYTES: passed straight on
    b.close()
    assert sock.recv(1) == b""  # closed by the peer, as paho expects
    assert sock.fileno() == a.fileno()  # everything else is the socket's
    a.close()


def test_a_packet_split_across_reads_comes_out_whole() -> None:
    a, b = _pair()
    sock = ReadAheadSocket(a)
    b.sendall(b"\x30\x0a0123")
    assert sock.recv(1) + sock.recv(1) == b"\x30\x0a"
    got = sock.recv(10)
    assert got == b"0123"
    with pytest.raises(BlockingIOError):
        sock.recv(6)
    b.sendall(b"456789")
    assert got + sock.recv(6) == b"0123456789"
    a.close()
    b.close()


def test_per_topic_callbacks_are_refused_not_ignored() -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    paho_tuning.install(c)
    assert isinstance(c._on_message_filtered, NoFilters)
    with pytest.raises(RuntimeError, match="per-topic callbacks"):
        c.message_callback_add("a/#", lambda *_: None)
    d = mqtt.Client(CallbackAPIVersion.VERSION2)
    d.message_callback_add("a/#", lambda *_: None)
    paho_tuning.install(d)  # a client that has them keeps paho's lookup
    assert not isinstance(d._on_message_filtered, NoFilters)


@pytest.mark.mqtt
def test_a_queued_backlog_drains_exactly_once_in_few_reads(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = [0]

    class Counting:
        def __init__(self, sock: Any) -> None:
            self._sock = sock

        def recv(self, n: int) -> bytes:
            reads[0] += 1
            data: bytes = self._sock.recv(n)
            return data

        def __getattr__(self, name: str) -> Any:
            return getattr(self._sock, name)

    class CountingReadAhead(ReadAheadSocket):
        def __init__(self, sock: Any) -> None:
            super().__init__(Counting(sock))

    monkeypatch.setattr(paho_tuning, "ReadAheadSocket", CountingReadAhead)
    broker = parse_broker_url(mosquitto.url)
    store = Store(tmp_path / "agg.db")
    n = 3000
    msgs = [
        (window_topic("s1", f"n{i % 10}"), encode(window(f"n{i % 10}", "s1", i // 10, seq=i // 10)))
        for i in range(n)
    ]

    async def run(until: int) -> None:
        sub = Subscriber(store, broker, client_id="bzagg-readahead", batch_max=500)
        task = asyncio.create_task(sub.run())
        await asyncio.wait_for(sub.connected.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 60
        while sub.stats.stored < until:
            assert asyncio.get_running_loop().time() < deadline, f"stalled at {sub.stats}"
            await asyncio.sleep(0.02)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert (sub.stats.duplicates, sub.stats.rejected) == (0, 0)

    asyncio.run(run(0))  # the persistent session exists: the broker queues for it
    _publish(mosquitto.port, msgs)
    reads[0] = 0
    asyncio.run(run(n))
    assert len(store.windows()) == n
    assert {(w.node, w.window_start) for w in store.windows()} == {
        (f"n{i % 10}", T0 + 60 * (i // 10)) for i in range(n)
    }
    # ~3 recv calls a message without the read-ahead; ~170 messages fit one 64 KiB read.
    assert 0 < reads[0] < n / 10, reads[0]  # 0: paho's socket was not read ahead at all
    store.close()
