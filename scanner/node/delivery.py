"""Node-side delivery wiring: outbox sink + publisher for `bzscan` (replay and live alike).

Usage from a runner (live or replay)::

    opts = delivery_options_from_cli(kw, replay=False)   # None: neither broker nor outbox
    d = Delivery(opts)                                   # opens the outbox (sync)
    pipeline = build_pipeline(..., [*sinks, d.sink], next_seq=d.next_seq,
                              outbox_dropped=d.dropped)
    async with d:                                        # starts the publisher if a broker is set
        ... feed the pipeline ...
    # leaving the block drains the backlog (at most drain_timeout_s) and closes the outbox;
    # d.unsent / d.unsent_message() say what stays behind

Without a broker the outbox is only filled (an offline inspector visit; `bzagg ingest` reads it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from scanner.errors import ScannerError
from scanner.node.outbox import Outbox, OutboxWriteError
from scanner.node.publish import Publisher
from scanner.node.spool import Spool
from scanner.wire.broker import BrokerConfig, BrokerConfigError, parse_broker_url
from scanner.wire.schema import WindowReport

log = logging.getLogger(__name__)

DEFAULT_OUTBOX = Path("bzscan-outbox.sqlite3")


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    node: str
    site: str
    outbox: Path = DEFAULT_OUTBOX
    broker: BrokerConfig | None = None
    hmac_key: bytes | None = None
    retention_s: float = 7 * 86400
    max_rows: int = 200_000
    drain_timeout_s: float | None = 30.0
    resend_after_s: float = 60.0
    alert_after_s: float = 3600.0
    memory_windows: int = 10_000


def read_key_file(path: Path) -> bytes:
    """A per-node HMAC key: the file's text without surrounding whitespace, as UTF-8 bytes."""
    key = path.read_bytes().strip()
    if len(key) < 16:
        raise ValueError(f"{path}: an HMAC key needs at least 16 characters")
    return key


class Delivery:
    """Outbox (always) and publisher (when a broker is configured) around one run."""

    def __init__(self, opts: DeliveryOptions) -> None:
        self.opts = opts
        self.spool = Spool(
            lambda: Outbox(
                opts.outbox, retention_s=opts.retention_s, max_rows=opts.max_rows,
                key=opts.hmac_key,
            ),
            opts.outbox,
            max_held=opts.memory_windows,
        )  # fmt: skip
        self.publisher: Publisher | None = None
        self._task: asyncio.Task[None] | None = None
        self.drained = True
        self.unsent = 0
        self.unconfirmed = 0
        self._seq_hint = 0

    @property
    def outbox(self) -> Outbox:
        if self.spool.outbox is None:
            raise OutboxWriteError(self.opts.outbox, self.spool.fault or "io", "not open")
        return self.spool.outbox

    def sink(self, report: WindowReport) -> None:
        self.spool.put(report)
        self._start_publisher()
        if self.publisher is not None:
            self.publisher.wake()

    def next_seq(self) -> int:
        ob = self.spool.outbox
        return ob.next_seq() if ob is not None else self._seq_hint

    def dropped(self) -> int:
        ob = self.spool.outbox
        return (ob.dropped() if ob is not None else 0) + self.spool.dropped

    def _start_publisher(self) -> None:
        ob = self.spool.outbox
        if self.opts.broker is None or self.publisher is not None or ob is None or not self._live:
            return
        self.publisher = Publisher(
            ob, self.opts.broker, site=self.opts.site, node=self.opts.node,
            resend_after_s=self.opts.resend_after_s, alert_after_s=self.opts.alert_after_s,
        )  # fmt: skip
        self._task = asyncio.create_task(self.publisher.run(), name="publisher")

    async def __aenter__(self) -> Delivery:
        self._live = True
        self._start_publisher()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live = False
        try:
            self.spool.flush()
            if self.publisher is not None and exc_type is None:
                self.drained = await self.publisher.drain(self.opts.drain_timeout_s)
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        finally:
            held = self.spool.health().held
            ob = self.spool.outbox
            stats = ob.stats() if ob is not None else None
            self.unsent = held + (stats.unsent if stats else 0)
            self.unconfirmed = stats.unconfirmed if stats else 0
            if held:
                log.error(
                    "%d window(s) could not be written to %s (%s) and are lost with this "
                    "process", held, self.opts.outbox, self.spool.fault,
                )  # fmt: skip
            if ob is not None:
                ob.close()

    _live = False

    def unsent_message(self) -> str:
        """What is left behind, for the end-of-run summary."""
        why = self.publisher.last_error if self.publisher else None
        confirmed = ""
        if self.unconfirmed > self.unsent:
            confirmed = (
                f" ({self.unconfirmed - self.unsent} of them reached the broker but the "
                "aggregator has not confirmed them; they are re-sent)"
            )
        return (
            f"{max(self.unsent, self.unconfirmed)} window(s) not yet delivered stay in "
            f"{self.opts.outbox}"
            + confirmed
            + (f" ({why})" if why else "")
            + "; the next run sends them, or carry the file to `bzagg ingest`"
        )


class DeliveryConfigError(ScannerError, ValueError):
    """Broker, TLS or key options that cannot work; the message names the option."""


def default_outbox(node: str) -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "bzaudit" / f"outbox-{node}.sqlite3"


def delivery_options_from_cli(kw: dict[str, Any], *, replay: bool) -> DeliveryOptions | None:
    """Build DeliveryOptions from `bzscan` options; None when a replay neither publishes nor
    keeps an outbox (plain re-analysis of a capture)."""
    broker_url = kw.get("broker")
    outbox = kw.get("outbox")
    if replay and broker_url is None and outbox is None:
        return None
    broker = None
    if broker_url:
        try:
            broker = parse_broker_url(
                broker_url, username=kw.get("username"), password=kw.get("password"),
                ca_file=kw.get("ca_file"), cert_file=kw.get("cert_file"),
                key_file=kw.get("key_file"),
            )  # fmt: skip
            broker.tls_context()
        except BrokerConfigError as exc:
            raise DeliveryConfigError(str(exc)) from exc
    key = None
    if kw.get("hmac_key_file") is not None:
        try:
            key = read_key_file(Path(kw["hmac_key_file"]))
        except (OSError, ValueError) as exc:
            raise DeliveryConfigError(f"--hmac-key-file: {exc}") from exc
    return DeliveryOptions(
        node=kw["node"], site=kw["site"],
        outbox=Path(outbox) if outbox is not None else default_outbox(kw["node"]),
        broker=broker, hmac_key=key,
        drain_timeout_s=kw.get("drain_timeout", 30.0),
        resend_after_s=float(kw.get("resend_after", 60.0)),
        alert_after_s=float(kw.get("alert_after", 3600.0)),
    )  # fmt: skip
