"""MQTT delivery from the outbox (the only aiomqtt on the node).

The publisher drains the outbox oldest first with QoS 1 and marks a row sent only after its
PUBACK (DESIGN.md §7). It reconnects with capped exponential backoff forever, announces a retained
`online` on the status topic and leaves `offline` as Last Will (DESIGN.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from scanner.outbox import Outbox
from scanner.schema import status_topic

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerConfigError(ValueError):
    """A broker URL or TLS option that cannot work; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def describe(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        who = f"{self.username}@" if self.username else ""
        return f"{scheme}://{who}{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
            if self.cert_file is not None:
                ctx.load_cert_chain(
                    str(self.cert_file), str(self.key_file) if self.key_file else None
                )
        except (OSError, ssl.SSLError) as exc:
            raise BrokerConfigError(f"TLS files for {self.describe()}: {exc}") from exc
        return ctx


def parse_broker_url(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> BrokerConfig:
    """`mqtt://host:port`, `mqtts://user:pass@host:port` or bare `host:port` (plain MQTT).

    Separate options override credentials in the URL (a password in a URL ends up in shell
    history; `--password` can come from the environment instead).
    """
    text = url.strip()
    if "://" not in text:
        text = "mqtt://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BrokerConfigError(f"broker {url!r}: {exc}") from exc
    if parts.scheme not in DEFAULT_PORTS:
        raise BrokerConfigError(f"broker {url!r}: use mqtt://host:port or mqtts://host:port")
    if not parts.hostname:
        raise BrokerConfigError(f"broker {url!r}: no host name")
    tls = parts.scheme == "mqtts"
    if not tls and (ca_file or cert_file):
        raise BrokerConfigError(f"broker {url!r}: TLS files given but the URL is not mqtts://")
    return BrokerConfig(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        tls=tls,
        username=username if username is not None else _unq(parts.username),
        password=password if password is not None else _unq(parts.password),
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
    )


def _unq(text: str | None) -> str | None:
    return None if text is None else unquote(text)


def explain(exc: BaseException, broker: BrokerConfig) -> str:
    """A one-line reason a connection failed, with what to do about it."""
    text = str(exc)
    where = broker.describe()
    low = text.lower()
    if "certificate_verify_failed" in low or "certificate verify failed" in low:
        return (
            f"{where}: TLS certificate not trusted ({text}); pass the CA that signed the "
            "broker's certificate with --ca-file"
        )
    if isinstance(exc, MqttConnectError) and (
        "not authori" in low or "bad user name or password" in low
    ):
        return (
            f"{where}: the broker refused the login ({text}): check --username/--password "
            "and the broker's password file"
        )
    if "wrong version number" in low:
        return f"{where}: TLS handshake failed ({text}): is the port a TLS listener?"
    if "connection refused" in low or "errno 111" in low:
        return f"{where}: connection refused: is the broker running and listening there?"
    return f"{where}: {text or type(exc).__name__}"


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
        self._backoff = (backoff_min_s, backoff_max_s)
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
        delay = self._backoff[0]
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
                delay = self._backoff[0]  # a session that worked starts the backoff afresh
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

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
