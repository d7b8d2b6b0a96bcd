"""MQTT delivery from the outbox (the only aiomqtt on the node).

The publisher drains the outbox oldest first with QoS 1 and marks a row sent only after its
PUBACK (docs/architecture.md §7). It reconnects with capped exponential backoff forever, announces
a retained
`online` on the status topic and leaves `offline` as Last Will (docs/architecture.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt

from scanner.node.outbox import Outbox
from scanner.wire.broker import Backoff, BrokerConfig, explain
from scanner.wire.topics import status_topic

log = logging.getLogger(__name__)


class Publisher:
    """Drains an Outbox to the broker in seq order; run() until cancelled."""

    def __init__(
        self,
        outbox: Outbox,
        broker: BrokerConfig,
        *,
        site: str,
        node: str,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        inflight: int = 20,
        batch: int = 200,
        timeout_s: float = 10.0,
    ) -> None:
        self._outbox = outbox
        self._broker = broker
        self._site = site
        self._node = node
        self._backoff = Backoff(backoff_min_s, backoff_max_s)
        self._inflight = max(1, inflight)
        self._batch = max(batch, self._inflight)
        self._timeout = timeout_s
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self.connected = False
        self._ever_connected = False
        self.last_error: str | None = None
        self.sent = 0

    def wake(self) -> None:
        """Something new is in the outbox."""
        self._idle.clear()
        self._wake.set()

    async def drain(self, timeout_s: float | None) -> bool:
        """Wait until everything in the outbox is acknowledged; False on timeout."""
        self.wake()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        while True:
            self._ever_connected = False
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError) as exc:
                msg = explain(exc, self._broker)
                if msg != self.last_error:
                    log.warning("publish: %s; retrying with backoff (outbox keeps everything)", msg)
                self.last_error = msg
            except Exception as exc:
                # Never let delivery die: the outbox keeps everything until the next attempt.
                self.last_error = f"{self._broker.describe()}: {type(exc).__name__}: {exc}"
                log.exception("publish: unexpected error; retrying with backoff")
            self.connected = False
            if self._ever_connected:
                self._backoff.reset()  # a session that worked starts the backoff afresh
            await asyncio.sleep(self._backoff.next())

    async def _session(self) -> None:
        topic = status_topic(self._site, self._node)
        client = aiomqtt.Client(
            self._broker.host,
            self._broker.port,
            username=self._broker.username,
            password=self._broker.password,
            identifier=f"bzscan-{self._node}",
            will=aiomqtt.Will(topic, b"offline", qos=1, retain=True),
            clean_session=True,  # the outbox, not the broker session, is the durable queue
            tls_context=self._broker.tls_context(),
            timeout=self._timeout,
            max_inflight_messages=self._inflight,
        )
        client.pending_calls_threshold = self._inflight + 10
        async with client:
            await client.publish(topic, b"online", qos=1, retain=True)
            self.connected = self._ever_connected = True
            if self.last_error is not None:
                log.warning("publish: connected to %s again", self._broker.describe())
            self.last_error = None
            try:
                await self._drain_loop(client)
            except asyncio.CancelledError:
                # A clean stop says `offline` itself; the Last Will covers crashes.
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await asyncio.wait_for(
                        client.publish(topic, b"offline", qos=1, retain=True), 2.0
                    )
                raise

    async def _drain_loop(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            rows = self._outbox.pending(self._batch)
            if not rows:
                self._idle.set()
                await self._wake.wait()
                continue
            for i in range(0, len(rows), self._inflight):
                chunk = rows[i : i + self._inflight]
                # Publishes start in seq order on one connection; the broker keeps that order.
                await asyncio.gather(*(client.publish(t, p, qos=1) for _, t, p in chunk))
                self._outbox.mark_sent_many([s for s, _, _ in chunk])
                self.sent += len(chunk)
