"""Bodies of `bzagg serve`, `bzagg ingest` and `bzagg nodes` (cli.py only parses options)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aggregator.errors import AggregatorError
from aggregator.ingest.subscribe import IngestStats, Subscriber, ingest_batch
from aggregator.store.sqlite import Store, iter_batches
from scanner.wire.broker import BrokerConfig
from scanner.wire.schema import iso_utc

log = logging.getLogger(__name__)


class KeysError(AggregatorError, ValueError):
    """A signing-keys file that cannot be used."""


def load_keys(path: Path) -> dict[str, bytes]:
    """YAML mapping node id -> key text (the same text as the node's --hmac-key-file)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KeysError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise KeysError(f"{path}: expected a mapping `node-id: key`")
    keys: dict[str, bytes] = {}
    for node, key in data.items():
        if not isinstance(key, str) or len(key.strip()) < 16:
            raise KeysError(f"{path}: key of node {node!r} must be text of 16+ characters")
        keys[str(node)] = key.strip().encode()
    return keys


@dataclass(frozen=True, slots=True)
class ServeOptions:
    db: Path
    broker: BrokerConfig | None
    embedded_port: int = 0
    keys: Mapping[str, bytes] | None = None
    client_id: str = "bzagg"
    batch_max: int = 1000
    duration_s: float | None = None


async def serve(opts: ServeOptions, echo: Callable[[str], None]) -> IngestStats:
    """Subscribe and store until SIGINT/SIGTERM (or `duration_s`); returns the counters."""
    store = Store(opts.db)
    stack = contextlib.AsyncExitStack()
    try:
        broker = opts.broker
        if broker is None:
            from aggregator.ingest.embedded import EmbeddedBroker

            embedded = await stack.enter_async_context(EmbeddedBroker(opts.embedded_port))
            broker = BrokerConfig(host=embedded.host, port=embedded.port)
            echo(f"bzagg: embedded broker on {embedded.url}")
        sub = Subscriber(
            store, broker, keys=opts.keys, client_id=opts.client_id, batch_max=opts.batch_max
        )
        task = asyncio.create_task(sub.run(), name="subscriber")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, task.cancel)
        announce = asyncio.create_task(_announce(sub, broker, opts.db, echo))
        try:
            await asyncio.wait_for(task, opts.duration_s)
        except (asyncio.CancelledError, TimeoutError):
            pass
        finally:
            announce.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        s = sub.stats
        echo(
            f"bzagg: {s.received} messages, {s.stored} windows stored, "
            f"{s.duplicates} duplicates, {s.rejected} rejected"
        )
        return s
    finally:
        await stack.aclose()
        store.close()


async def _announce(
    sub: Subscriber, broker: BrokerConfig, db: Path, echo: Callable[[str], None]
) -> None:
    await sub.connected.wait()
    echo(f"bzagg: subscribed on {broker.describe()}, storing into {db}")


def ingest_outbox(
    outbox_path: Path, db: Path, keys: Mapping[str, bytes] | None, *, now: float | None = None
) -> IngestStats:
    """Import every window of a node outbox; idempotent with what arrived over MQTT."""
    from scanner.node.outbox import Outbox

    outbox = Outbox(outbox_path, readonly=True)
    store = Store(db)
    stats = IngestStats()
    try:
        for batch in iter_batches(outbox.all_payloads(), 1000):
            ingest_batch(
                store,
                [(topic, payload) for _, topic, payload in batch],
                now=time.time() if now is None else now,
                keys=keys,
                stats=stats,
            )
    finally:
        outbox.close()
        store.close()
    return stats


NODE_HEADER = ("node", "site", "status", "last seen (UTC)", "windows", "last seq", "seq gaps",
               "duplicates", "rejected")  # fmt: skip


def node_table(db: Path) -> list[tuple[Any, ...]]:
    store = Store(db)
    try:
        rows = store.node_rows()
    finally:
        store.close()
    return [
        (node, site, status, iso_utc(int(last)) if last else "-", windows,
         "-" if last_seq is None else last_seq, gaps, dups, rejected)
        for node, site, _f, last, status, _sa, last_seq, windows, gaps, dups, rejected in rows
    ]  # fmt: skip


def format_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    from aggregator.report.columns import align

    return align([header, *[tuple(str(c) for c in r) for r in rows]])
