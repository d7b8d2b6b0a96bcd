"""MQTT in (the only aiomqtt on the aggregator): validate, store in batches, then acknowledge.

A persistent session (fixed client id, clean_session False) keeps the broker queueing for us while
we are down; a message is acknowledged (PUBACK) only after the transaction holding its row, or its
rejection, has committed (docs/architecture.md §7). After each commit it publishes, per node
touched, the highest contiguous seq committed (retained, QoS 1, on `bzaudit/v1/<site>/<node>/ack`):
the node's end-to-end confirmation. A failing store is retried in place with capped, jittered
backoff (the batch stays unacknowledged, the connection stays up), reopened when SQLite would
otherwise stay read-only, and logged once per change of cause with a counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import aiomqtt

from aggregator.ingest import paho_tuning
from aggregator.ingest.acks import AckPublisher
from aggregator.ingest.paho_tuning import Incoming
from aggregator.ingest.verdict import IngestStats, Verdict, ingest_batch, judge, topics
from aggregator.store.delivery import REOPEN_CAUSES
from aggregator.store.interface import AddResult, StoreError, WindowStore
from scanner.wire.broker import Backoff, BrokerConfig, explain
from scanner.wire.schema import MAX_PAYLOAD_BYTES, TOPIC_ROOT

log = logging.getLogger(__name__)

__all__ = ["IngestStats", "Subscriber", "Verdict", "ingest_batch", "judge"]


class Subscriber:
    """Runs until cancelled: connect, subscribe, batch, commit, ack; reconnect with backoff."""

    def __init__(
        self,
        store: WindowStore,
        broker: BrokerConfig,
        *,
        keys: Mapping[str, bytes] | None = None,
        clock: Callable[[], float] = time.time,
        client_id: str = "bzagg",
        batch_max: int = 1000,
        batch_wait_s: float = 0.05,
        batch_idle_s: float = 0.005,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 5.0,
        store_backoff_max_s: float = 30.0,
        on_batch: Callable[[IngestStats], None] | None = None,
        share_group: str | None = None,
    ) -> None:
        self._store = store
        self._broker = broker
        self._keys = keys
        self._clock = clock
        self._client_id = client_id
        self._batch_max = batch_max
        self._batch_wait = batch_wait_s
        self._batch_idle = batch_idle_s
        self._backoff = Backoff(backoff_min_s, backoff_max_s)
        self._store_backoff = Backoff(backoff_min_s, store_backoff_max_s)
        self._on_batch = on_batch
        self._topics = topics(share_group)
        self.stats = IngestStats()
        self.connected = asyncio.Event()
        self.last_error: str | None = None
        self.store_fault: str | None = None
        self._acks = AckPublisher()

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError) as exc:
                msg = explain(exc, self._broker)
                if msg != self.last_error:
                    log.warning("subscribe: %s; reconnecting with backoff", msg)
                self.last_error = msg
            except Exception as exc:
                # Never stop ingesting: unacknowledged messages come back after the reconnect.
                self.last_error = f"{self._broker.describe()}: {type(exc).__name__}: {exc}"
                log.exception("subscribe: unexpected error; reconnecting with backoff")
            self._acks.cancel()
            if self.connected.is_set():
                self._backoff.reset()
            self.connected.clear()
            await asyncio.sleep(self._backoff.next())

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self._broker.host,
            self._broker.port,
            username=self._broker.username,
            password=self._broker.password,
            identifier=self._client_id,
            clean_session=False,  # the broker queues QoS 1 windows for us while we are away
            tls_context=self._broker.tls_context(),
            timeout=10,
            # Our acks, one per node a batch touched: no paho limit, whose bookkeeping walks
            # every message in flight on each PUBACK (quadratic in a batch's acks).
            max_inflight_messages=0,
        )
        paho, queue = paho_tuning.raw_messages(client)
        async with client:
            for topic in self._topics:
                await client.subscribe(topic, qos=1)
            if self.last_error is not None:
                log.warning("subscribe: connected to %s again", self._broker.describe())
            self.last_error = None
            self.connected.set()
            async for first in client.messages:
                batch = await self._fill(cast(Incoming, first), queue)
                result = await self._commit_until_stored(
                    [(paho_tuning.topic(m), bytes(m.payload)) for m in batch]  # paho: a bytearray
                )
                for m in batch:
                    if m.qos > 0:
                        paho.ack(m.mid, m.qos)
                self._acks.after_commit(paho, result.acks)
                if self._on_batch is not None:
                    self._on_batch(self.stats)

    async def _commit_until_stored(self, messages: list[tuple[str, bytes]]) -> AddResult:
        """Commit, retrying a failing store with backoff; the batch stays unacknowledged."""
        while True:
            try:
                result = await self._commit(messages)
            except StoreError as exc:
                self.stats.store_failures += 1
                cause = exc.cause or type(exc.__cause__ or exc).__name__
                if cause != self.store_fault:
                    log.error(
                        "subscribe: store %s cannot be written: %s (%s); %d message(s) stay "
                        "unacknowledged, retrying with backoff", exc.where, cause, exc,
                        len(messages),
                    )  # fmt: skip
                self.store_fault = cause
                await asyncio.sleep(self._store_backoff.next())
                if exc.cause == "disk full":
                    # The WAL may hold the space a write needs: move it into the database.
                    await asyncio.to_thread(self._store.checkpoint)
                if exc.cause in REOPEN_CAUSES:
                    with contextlib.suppress(StoreError):
                        await asyncio.to_thread(self._store.reopen)
                continue
            if self.store_fault is not None:
                log.warning(
                    "subscribe: store writable again after %d failed attempt(s)",
                    self.stats.store_failures,
                )
                self.store_fault = None
                self._store_backoff.reset()
            return result

    async def _commit(self, messages: list[tuple[str, bytes]]) -> AddResult:
        """Judge and commit in a worker thread: SQLite runs without the GIL, so the event loop
        keeps reading the next batch meanwhile. Batches are committed one at a time."""
        job = functools.partial(
            ingest_batch, self._store, messages, now=self._clock(), keys=self._keys,
            stats=self.stats,
        )  # fmt: skip
        fut = asyncio.get_running_loop().run_in_executor(None, job)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            # Let a running commit finish before anyone closes the store; its messages stay
            # unacknowledged and come back as harmless duplicates.
            with contextlib.suppress(Exception):
                await fut
            raise

    async def _fill(self, first: Incoming, queue: asyncio.Queue[Incoming]) -> list[Incoming]:
        """Collect a batch: aiomqtt hands over one message per event-loop turn, so wait up to
        `batch_wait_s` for more instead of committing (and fsyncing) each message alone; but
        stop after `batch_idle_s` without a new message. The broker sends at most its
        in-flight limit (max_inflight_messages) of unacknowledged messages, and we acknowledge
        only after the commit: once that many are in the batch nothing more comes until we
        commit, so waiting out the whole `batch_wait_s` would only idle."""
        batch = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._batch_wait
        while len(batch) < self._batch_max:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            left = min(deadline - loop.time(), self._batch_idle)
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), left))
            except TimeoutError:
                break
        return batch


# -- `bzagg doctor`: the broker limits that decide whether windows survive an outage -----------

PROBE_TOPIC = f"{TOPIC_ROOT}/doctor/bzagg-probe/ack"  # the aggregator may write and read it


@dataclass(frozen=True, slots=True)
class Probe:
    name: str
    status: str  # ok / warn / fail
    detail: str


def _probe_client(broker: BrokerConfig, ident: str, *, clean: bool) -> aiomqtt.Client:
    return aiomqtt.Client(
        broker.host, broker.port, username=broker.username, password=broker.password,
        identifier=ident, clean_session=clean, tls_context=broker.tls_context(), timeout=10,
        max_queued_incoming_messages=0,
    )  # fmt: skip


async def _received(client: aiomqtt.Client, want: int, quiet_s: float) -> int:
    n = 0
    with contextlib.suppress(TimeoutError):
        while n < want:
            await asyncio.wait_for(anext(aiter(client.messages)), quiet_s)
            n += 1
    return n


async def probe_broker(
    broker: BrokerConfig, *, queue_messages: int = 1100, wait_s: float = 2.0
) -> list[Probe]:
    """Message size (a contract-sized window arrives; a 1 MiB one should not) and how many
    messages the broker queues for an offline persistent session (our session in an outage)."""
    out: list[Probe] = []
    async with _probe_client(broker, "bzagg-doctor", clean=True) as c:
        await c.subscribe(PROBE_TOPIC, qos=1)
        for size, must in ((MAX_PAYLOAD_BYTES, True), (1 << 20, False)):
            await c.publish(PROBE_TOPIC, b"x" * size, qos=1)
            got = await _received(c, 1, wait_s) == 1
            if must:
                out.append(Probe("message size", "ok" if got else "fail",
                                 f"a {size}-byte window reaches the aggregator" if got else
                                 f"a {size}-byte window is dropped: raise message_size_limit "
                                 "(deploy/server/mosquitto.conf uses 65536)"))  # fmt: skip
            elif got:
                msg = "the broker accepts 1 MiB messages: set message_size_limit 65536"
                out.append(Probe("message size", "warn", msg))
    ident = "bzagg-doctor-queue"
    async with _probe_client(broker, ident, clean=False) as c:
        await c.subscribe(PROBE_TOPIC, qos=1)
    async with _probe_client(broker, "bzagg-doctor-pub", clean=True) as p:
        for i in range(queue_messages):
            await p.publish(PROBE_TOPIC, b"%d" % i, qos=1)
    async with _probe_client(broker, ident, clean=False) as c:
        n = await _received(c, queue_messages, wait_s)
    async with _probe_client(broker, ident, clean=True):
        pass  # forget the probe session
    if n >= queue_messages:
        out.append(Probe("queue depth", "ok", f"{n} of {n} messages queued for an offline "
                         "session (more may fit)"))  # fmt: skip
    else:
        msg = (
            f"only {n} of {queue_messages} messages were queued for an offline session: raise "
            "max_queued_messages (and max_queued_bytes) or windows are dropped while we are away"
        )
        out.append(Probe("queue depth", "fail", msg))
    return out
