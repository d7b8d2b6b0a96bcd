"""A node draining a backlog holds at most one in-flight chunk of payloads in memory.

After an outage every node has a backlog; a publisher that reads a whole round (`batch` rows)
and keeps it across the awaits of publishing holds `batch` payloads per node until the round
ends, which is memory that stays with the process (the soak's nodes grew by it after each
broker restart). The publisher may plan a round of any size, but must read payloads one
in-flight chunk at a time. Real Mosquitto; no aggregator, so every row is also re-sent.
"""

from __future__ import annotations

import asyncio
import ctypes
from pathlib import Path

import pytest

from scanner.node.outbox import Outbox
from scanner.node.publish import Publisher
from scanner.wire.broker import parse_broker_url
from tests.delivery.helpers import window
from tests.mosquitto import Mosquitto

pytestmark = pytest.mark.mqtt

BACKLOG, INFLIGHT = 300, 20


class CountingOutbox(Outbox):
    """Records the largest number of payload rows any read handed to the publisher."""

    most = 0

    def _seen(self, rows: list[tuple[int, str, bytes]]) -> list[tuple[int, str, bytes]]:
        self.most = max(self.most, len(rows))
        return rows

    def pending(
        self, limit: int = 100, *, resend_before: float | None = None
    ) -> list[tuple[int, str, bytes]]:
        return self._seen(super().pending(limit, resend_before=resend_before))

    def rows(self, seqs: list[int]) -> list[tuple[int, str, bytes]]:
        return self._seen(super().rows(seqs))


def test_backlog_is_published_one_chunk_of_payloads_at_a_time(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    ob = CountingOutbox(tmp_path / "outbox.sqlite3")
    for i in range(BACKLOG):
        ob.put(window("node-a", "site-1", i))
    pub = Publisher(
        ob, parse_broker_url(mosquitto.url), site="site-1", node="node-a",
        inflight=INFLIGHT, batch=200, resend_after_s=0.5, resend_max_s=0.5,
    )  # fmt: skip

    async def drain() -> None:
        task = asyncio.create_task(pub.run())
        try:
            async with asyncio.timeout(60):
                # Every row PUBACKed, and (no aggregator acks them) sent again.
                while ob.stats().unsent or pub.sent < 2 * BACKLOG:
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(drain())
    assert pub.resent >= BACKLOG - INFLIGHT
    assert ob.stats().unconfirmed == BACKLOG  # nothing was confirmed, nothing was lost
    assert 0 < ob.most <= INFLIGHT
    ob.close()


def test_reading_chunks_of_any_length_keeps_no_new_statements(tmp_path: Path) -> None:
    """A statement whose text depends on the chunk length (`IN (?, ?, ...)`) is prepared and
    cached once per length in every connection: about 4 KiB of SQLite memory each, which stays
    (88 KiB a connection for lengths 1..20, 4 MiB for the soak's 50 outboxes)."""
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")  # the library the sqlite3 module links on Linux
    except OSError:
        pytest.skip("no shared libsqlite3 to ask for its memory use")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    ob = Outbox(tmp_path / "outbox.sqlite3")
    seqs = [ob.put(window("node-a", "site-1", i)) for i in range(INFLIGHT)]
    assert ob.rows(seqs[:1]) and ob.pending_seqs(INFLIGHT) == seqs  # warm the cache
    before = lib.sqlite3_memory_used()
    for n in range(1, INFLIGHT + 1):
        assert [s for s, _, _ in ob.rows(seqs[:n])] == seqs[:n]
    assert lib.sqlite3_memory_used() - before < 4096
    ob.close()


def test_a_lost_broker_is_noticed_at_once_not_after_the_publish_timeout(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """The ack reader sees the connection drop at once; the drain must stop then too instead of
    waiting out `timeout_s` on its in-flight publishes. Otherwise every node of a fleet comes
    back exactly `timeout_s` after a broker restart, each with that long a backlog to send in
    one burst (the soak's nodes grew by that burst)."""
    ob = Outbox(tmp_path / "outbox.sqlite3")
    pub = Publisher(
        ob, parse_broker_url(mosquitto.url), site="site-1", node="node-a", timeout_s=60,
        backoff_min_s=0.2, backoff_max_s=0.5,
    )  # fmt: skip

    async def scenario() -> float:
        task = asyncio.create_task(pub.run())
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(30):
                while not pub.connected:
                    await asyncio.sleep(0.05)
                mosquitto.stop()
                t0 = loop.time()
                while pub.connected:
                    await asyncio.sleep(0.05)
                noticed = loop.time() - t0
                ob.put(window("node-a", "site-1", 0))
                pub.wake()
                mosquitto.start()
                while ob.stats().unsent:
                    await asyncio.sleep(0.05)
                return noticed
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert asyncio.run(scenario()) < 5.0
    ob.close()
