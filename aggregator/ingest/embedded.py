"""In-process MQTT broker (amqtt) on a loopback port: a laptop or small site needs nothing else.

Production uses Mosquitto (TLS, per-node passwords, an ACL; deploy/server). The embedded
broker is anonymous and binds to 127.0.0.1 only, so nothing outside the machine can publish.
"""

from __future__ import annotations

import logging
import socket
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _LatePubacks(logging.Filter):
    """Counts, instead of printing, amqtt's traceback for a PUBACK that took over 5 s.

    On a busy machine a subscriber in the broker's own event loop can answer late; amqtt then
    logs a traceback and stops waiting. Nothing is lost by it: a node keeps a window until the
    aggregator's own acknowledgement (sent after the store commit) arrives.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, TimeoutError) and "PUBACK" in str(exc):
            self.count += 1
            return False
        return True


class EmbeddedBroker:
    """`async with EmbeddedBroker(port) as b:` serves `b.url` until the block ends."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._broker: Any = None
        self._late = _LatePubacks()

    @property
    def late_pubacks(self) -> int:
        """Deliveries whose PUBACK amqtt gave up waiting for (harmless, see _LatePubacks)."""
        return self._late.count

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        from amqtt.broker import Broker  # imported here: only `serve --embedded-broker` needs it

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        # amqtt logs every connection at INFO; keep our logs readable.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        # The same late PUBACK, as a warning and as a traceback; QoS 1 and the end-to-end ack
        # make it harmless.
        logging.getLogger("amqtt.mqtt.protocol.handler").setLevel(logging.ERROR)
        logging.getLogger("amqtt.broker").addFilter(self._late)
        self._broker = Broker(config)
        await self._broker.start()
        log.info("embedded MQTT broker on %s", self.url)

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
        logging.getLogger("amqtt.broker").removeFilter(self._late)
        if self._late.count:
            log.info("embedded broker: %d PUBACKs came after 5 s (nodes re-send until the "
                     "aggregator acknowledges)", self._late.count)  # fmt: skip

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
