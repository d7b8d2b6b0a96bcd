"""MQTT delivery from the outbox (the only aiomqtt on the node).

The publisher drains the outbox oldest first with QoS 1. The broker's PUBACK only moves a row from
queued to in flight; the aggregator's retained ack (the highest contiguous seq it has committed)
confirms it, and a row still unconfirmed `resend_after_s` after it went out is sent again, the
wait doubling while the ack does not move (docs/architecture.md §7). It reconnects with capped
exponential backoff forever, announces a retained `online` on the status topic and leaves
`offline` as Last Will (docs/architecture.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from scanner.node.outbox import Outbox
from scanner.wire.broker import Backoff, BrokerConfig, cancelling, explain
from scanner.wire.schema import MAX_PAYLOAD_BYTES
from scanner.wire.topics import ack_topic, decode_ack, status_topic

log = logging.getLogger(__name__)
_LOST = "connection lost"


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    """What the node knows about its backlog (numbers only), for health lines and alerts."""

    unconfirmed: int
    oldest_unconfirmed_s: float | None
    ack_seq: int | None
    resent: int
    connected: bool


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
        resend_after_s: float = 60.0,
        resend_max_s: float = 1800.0,
        alert_after_s: float = 3600.0,
        max_message_bytes: int = MAX_PAYLOAD_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._outbox = outbox
        self._broker = broker
        self._site, self._node = site, node
        self._backoff = Backoff(backoff_min_s, backoff_max_s)
        self._inflight = max(1, inflight)
        self._batch = max(batch, self._inflight)
        self._timeout = timeout_s
        self._wake, self._idle = asyncio.Event(), asyncio.Event()
        self.connected = self._ever_connected = False
        self.last_error: str | None = None
        self.sent = self.resent = 0
        self.ack_seq: int | None = None
        self._resend_min = resend_after_s
        self._resend_max = max(resend_max_s, resend_after_s)
        self._resend_s = resend_after_s
        self._phase = 1 + random.random() / 2  # spreads a fleet, no secrecy
        self._alert_after, self._alerting = alert_after_s, False
        self._max_bytes, self._clock = max_message_bytes, clock
        self._highest_sent, self._stuck, self._highest_tried = -1, (-1, 0), -1

    def health(self) -> DeliveryHealth:
        n, oldest = self._outbox.unconfirmed()
        age = None if oldest is None else max(0.0, self._clock() - oldest)
        return DeliveryHealth(n, age, self.ack_seq, self.resent, self.connected)

    def check_alert(self) -> DeliveryHealth:
        """Log once when the oldest unconfirmed window passes the threshold, once when it ends."""
        h = self.health()
        late = h.oldest_unconfirmed_s is not None and h.oldest_unconfirmed_s > self._alert_after
        if late and not self._alerting:
            log.error(
                "ALERT delivery: %d window(s) not confirmed by the aggregator, the oldest for "
                "%.0f s (threshold %.0f s); they stay in the outbox and are re-sent",
                h.unconfirmed, h.oldest_unconfirmed_s, self._alert_after,
            )  # fmt: skip
        elif not late and self._alerting:
            log.warning("delivery: every window older than %.0f s is confirmed again",
                        self._alert_after)  # fmt: skip
        self._alerting = late
        return h

    def on_ack(self, seq: int) -> None:
        """The aggregator committed every seq up to `seq`."""
        if self.ack_seq is None or seq > self.ack_seq:
            self._resend_s = self._resend_min  # progress: re-send promptly again
        self.ack_seq = seq if self.ack_seq is None else max(self.ack_seq, seq)
        self._outbox.confirm_through(seq)
        self._wake.set()

    def wake(self) -> None:
        """Something new is in the outbox."""
        self._idle.clear()
        self._wake.set()

    async def drain(self, timeout_s: float | None) -> bool:
        """Wait until the aggregator has confirmed everything in the outbox; False on timeout."""
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
            # Retained: the broker hands over the aggregator's latest ack right away.
            await client.subscribe(ack_topic(self._site, self._node), qos=1)
            self.connected = self._ever_connected = True
            if self.last_error is not None:
                log.warning("publish: connected to %s again", self._broker.describe())
            self.last_error = None
            acks = asyncio.create_task(self._read_acks(client), name="acks")
            drain = asyncio.create_task(self._drain_loop(client), name="drain")
            # The ack reader sees a lost connection at once; in-flight publishes would wait out
            # the timeout, and a fleet would come back in step, each node with that backlog.
            acks.add_done_callback(lambda _: drain.cancel(_LOST))
            try:
                await drain
            except asyncio.CancelledError:
                if acks.done() and not acks.cancelled() and not cancelling():
                    raise acks.exception() or aiomqtt.MqttError(_LOST) from None
                # A clean stop says `offline` itself; the Last Will covers crashes.
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await asyncio.wait_for(
                        client.publish(topic, b"offline", qos=1, retain=True), 2.0
                    )
                raise
            finally:
                acks.cancel()
                drain.cancel()
                await asyncio.gather(acks, drain, return_exceptions=True)

    def _note_stuck(self, row: tuple[int, str, bytes]) -> None:
        """Say once per window when the same oldest window keeps coming back unconfirmed: a
        broker drops what it will not take (message_size_limit, the ACL) without telling us."""
        seq, _, payload = row
        self._stuck = (seq, self._stuck[1] + 1) if self._stuck[0] == seq else (seq, 1)
        if self._stuck[1] == 3:
            log.error(
                "publish: window seq %d (%d bytes) sent %d times, still not confirmed by the "
                "aggregator: the broker may drop it or close the connection over it "
                "(message_size_limit, ACL) or the aggregator is away; `bzagg doctor` checks the "
                "broker", seq, len(payload), self._stuck[1] + 1,
            )  # fmt: skip

    async def _read_acks(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if isinstance(payload, bytes | bytearray):
                seq = decode_ack(bytes(payload), self._node)
                if seq is not None:
                    self.on_ack(seq)

    async def _drain_loop(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            # Plan the round by seq; read payloads one in-flight chunk at a time, so a backlog
            # costs `inflight` payloads of memory, not `batch` held across the awaits below.
            # Each node waits its own 1-1.5x the re-send time: a fleet whose acks stopped together
            # (the aggregator or its disk was away) would otherwise re-send in step.
            cutoff = self._clock() - self._resend_s * self._phase
            seqs = self._outbox.pending_seqs(self._batch, resend_before=cutoff)
            if not seqs:
                if self.check_alert().unconfirmed == 0:
                    self._idle.set()
                # Wake for new windows and acks, and now and then to re-send the unconfirmed.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(self._resend_s, 5.0))
                continue
            resent = sum(1 for s in seqs if s <= self._highest_sent)
            if seqs[0] <= self._highest_tried:
                # Tried before (PUBACKed or not): a window the broker refuses comes back here.
                self._note_stuck(self._outbox.rows(seqs[:1])[0])
            self._highest_tried = max(self._highest_tried, seqs[-1])
            if resent:
                self.resent += resent
                log.info(
                    "publish: re-sending %d unconfirmed window(s) from seq %d", resent, seqs[0]
                )
                # No progress since the last round: wait longer before the next one, so an
                # aggregator that is away for hours does not get the backlog again every minute.
                self._resend_s = min(self._resend_s * 2, self._resend_max)
                self._phase = 1 + random.random() / 2
            for i in range(0, len(seqs), self._inflight):
                chunk = self._outbox.rows(seqs[i : i + self._inflight])
                if not chunk:
                    continue  # confirmed and pruned meanwhile
                for s, _, p in chunk:
                    if len(p) > self._max_bytes:
                        log.error(
                            "publish: window seq %d is %d bytes, over the %d-byte limit; the "
                            "broker (message_size_limit) or the aggregator will drop it",
                            s, len(p), self._max_bytes,
                        )  # fmt: skip
                # Publishes start in seq order on one connection; the broker keeps that order.
                try:
                    await asyncio.gather(*(client.publish(t, p, qos=1) for _, t, p in chunk))
                except (aiomqtt.MqttError, TimeoutError, asyncio.CancelledError) as exc:
                    if not isinstance(exc, asyncio.CancelledError) or exc.args == (_LOST,):
                        log.error(
                            "publish: the broker did not take windows seq %d..%d (largest %d "
                            "bytes): %r; a broker whose message_size_limit is below that drops "
                            "them or closes the connection; they stay in the outbox",
                            chunk[0][0], chunk[-1][0], max(len(p) for _, _, p in chunk), exc,
                        )  # fmt: skip
                    raise
                self._outbox.mark_sent_many([s for s, _, _ in chunk])
                self.sent += len(chunk)
                self._highest_sent = max(self._highest_sent, chunk[-1][0])


async def probe_ack(
    broker: BrokerConfig, *, site: str, node: str, wait_s: float = 2.0
) -> tuple[str, str]:
    """(status, detail) for `bzscan doctor`: log in as this node and read its retained ack.

    Message size and queue depth are not observable with node credentials (the ACL lets a node
    read only its own ack); `bzagg doctor` probes those.
    """
    client = aiomqtt.Client(
        broker.host, broker.port, username=broker.username, password=broker.password,
        identifier=f"bzscan-doctor-{node}", clean_session=True,
        tls_context=broker.tls_context(), timeout=wait_s + 3,
    )  # fmt: skip
    try:
        async with client:
            await client.subscribe(ack_topic(site, node), qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    async for message in client.messages:
                        raw = message.payload
                        seq = decode_ack(raw, node) if isinstance(raw, bytes) else None
                        if seq is not None:
                            return "ok", (
                                f"logged in; the aggregator confirms windows up to seq {seq} "
                                "(message size and queue depth: run `bzagg doctor`)"
                            )
    except (aiomqtt.MqttError, OSError) as exc:
        return "fail", explain(exc, broker)
    return "warn", (
        f"logged in, but no ack on {ack_topic(site, node)}: the aggregator has stored no window "
        "of this node yet, or the ACL does not let it read its ack (deploy/server/acl)"
    )
