"""Bodies of `bzagg serve`, `bzagg ingest` and `bzagg nodes` (cli.py only parses options)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aggregator.errors import AggregatorError
from aggregator.ingest.subscribe import IngestStats, Subscriber, ingest_batch
from aggregator.store import is_url, open_store
from aggregator.store.interface import StoreError, WindowStore
from aggregator.store.rows import iter_batches
from scanner.wire.broker import Backoff, BrokerConfig
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
    db: str | Path  # a SQLite path or a postgresql:// URL
    broker: BrokerConfig | None
    embedded_port: int = 0
    keys: Mapping[str, bytes] | None = None
    client_id: str = "bzagg"
    batch_max: int = 1000
    duration_s: float | None = None
    share_group: str | None = None
    cache_mb: int = 2  # SQLite page cache of the writer (aggregator/store/delivery.py)


async def open_writable(
    db: str | Path,
    echo: Callable[[str], None],
    *,
    backoff: Backoff | None = None,
    cache_mb: int = 2,
) -> WindowStore:
    """Open the store and prove it takes writes; until it does, retry with backoff and say so.

    A store on a read-only or full filesystem is not an error that needs a restart: `serve`
    waits (without subscribing, so nothing is taken from the broker) and goes on by itself.
    A file that is not a store of this version is an error.
    """
    backoff = backoff or Backoff(0.5, 30.0)
    said: str | None = None
    attempts = 0
    while True:
        store: WindowStore | None = None
        try:
            store = open_store(db) if is_url(db) else open_store(db, cache_mb=cache_mb)
            store.check_writable()
        except StoreError as exc:
            if store is not None:
                store.close()
            if exc.cause is None:
                raise
            attempts += 1
            if exc.cause != said:
                echo(
                    f"bzagg: store {db} cannot be written ({exc.cause}: {exc}); not subscribing "
                    "yet, retrying with backoff until it can (remount it read-write or free "
                    "space; nothing is taken from the broker meanwhile)"
                )
                said = exc.cause
            await asyncio.sleep(backoff.next())
            continue
        if said is not None:
            echo(f"bzagg: store {db} writable again after {attempts} attempt(s)")
        return store


async def serve(opts: ServeOptions, echo: Callable[[str], None]) -> IngestStats:
    """Subscribe and store until SIGINT/SIGTERM (or `duration_s`); returns the counters."""
    store = await open_writable(opts.db, echo, cache_mb=opts.cache_mb)
    stack = contextlib.AsyncExitStack()
    try:
        broker = opts.broker
        if broker is None:
            from aggregator.ingest.embedded import EmbeddedBroker

            embedded = await stack.enter_async_context(EmbeddedBroker(opts.embedded_port))
            broker = BrokerConfig(host=embedded.host, port=embedded.port)
            echo(f"bzagg: embedded broker on {embedded.url}")
        sub = Subscriber(
            store, broker, keys=opts.keys, client_id=opts.client_id, batch_max=opts.batch_max,
            share_group=opts.share_group,
        )  # fmt: skip
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
            f"{s.duplicates} duplicates, {s.rejected} rejected ({s.conflicts} conflicts)"
        )
        return s
    finally:
        await stack.aclose()
        store.close()


async def _announce(
    sub: Subscriber, broker: BrokerConfig, db: str | Path, echo: Callable[[str], None]
) -> None:
    await sub.connected.wait()
    echo(f"bzagg: subscribed on {broker.describe()}, storing into {_redact(db)}")


def _redact(db: str | Path) -> str:
    """A store URL without its password, for logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", str(db))


def ingest_outbox(
    outbox_path: Path,
    db: str | Path,
    keys: Mapping[str, bytes] | None,
    *,
    now: float | None = None,
) -> IngestStats:
    """Import every window of a node outbox; idempotent with what arrived over MQTT."""
    from aggregator.store.sqlite_read import read_outbox  # a node outbox is a SQLite file

    messages = read_outbox(outbox_path)
    first = next(messages, None)  # opens the file: a bad outbox fails before the store opens
    store = open_store(db)
    stats = IngestStats()
    try:
        if first is not None:
            for batch in iter_batches(itertools.chain([first], messages), 1000):
                ingest_batch(
                    store, batch, now=time.time() if now is None else now, keys=keys,
                    stats=stats,
                )  # fmt: skip
    finally:
        store.close()
    return stats


NODE_HEADER = ("node", "site", "status", "last seen (UTC)", "windows", "last seq", "seq gaps",
               "duplicates", "rejected", "acked seq", "unconfirmed s", "conflicts",
               "clock skew s")  # fmt: skip


@dataclass(frozen=True, slots=True)
class NodeAlert:
    node: str
    what: str  # `unconfirmed` or `clock`

    def line(self, row: dict[str, Any], max_unconfirmed_s: float, max_skew_s: float) -> str:
        if self.what == "unconfirmed":
            return (
                f"ALERT node {self.node}: a window above seq {row['acked seq']} has waited "
                f"{row['unconfirmed s']} s for an earlier one (> {max_unconfirmed_s:.0f} s): "
                "windows are missing; the node re-sends them, or ingest its outbox"
            )
        return (
            f"ALERT node {self.node}: its clock disagrees with ours by {row['clock skew s']} s "
            f"(> {max_skew_s:.0f} s), from window time vs arrival time; check its NTP"
        )


def node_table(db: str | Path, *, now: float | None = None) -> list[tuple[Any, ...]]:
    store = open_store(db)
    try:
        rows = store.nodes()
        extra = {r[0]: r[1:] for r in store.node_delivery_rows()}
    finally:
        store.close()
    now = time.time() if now is None else now
    out = []
    for n in rows:
        acked, conflicts, skew, oldest = extra.get(n.node, (None, 0, None, None))
        out.append((
            n.node, n.site, n.status, iso_utc(int(n.last_seen)) if n.last_seen else "-",
            n.windows, "-" if n.last_seq is None else n.last_seq, n.seq_gaps, n.duplicates,
            n.rejected,
            "-" if acked is None else acked,
            "-" if oldest is None else round(max(0.0, now - oldest)),
            conflicts, "-" if skew is None else round(skew),
        ))  # fmt: skip
    return out


def node_alerts(
    rows: list[tuple[Any, ...]], *, max_unconfirmed_s: float, max_skew_s: float
) -> list[str]:
    """ALERT lines for `bzagg nodes --check`: missing windows waited for too long, bad clocks."""
    lines = []
    for r in rows:
        row = dict(zip(NODE_HEADER, r, strict=True))
        age, skew = row["unconfirmed s"], row["clock skew s"]
        if age != "-" and age > max_unconfirmed_s:
            lines.append(
                NodeAlert(row["node"], "unconfirmed").line(row, max_unconfirmed_s, max_skew_s)
            )
        if skew != "-" and abs(skew) > max_skew_s:
            lines.append(NodeAlert(row["node"], "clock").line(row, max_unconfirmed_s, max_skew_s))
    return lines


def format_table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    from aggregator.report.columns import align

    return align([header, *[tuple(str(c) for c in r) for r in rows]])
