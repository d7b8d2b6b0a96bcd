"""`bzagg doctor`: what the broker and the store will actually accept, checked before it matters."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from scanner.clikit.config import config_callback_for


@click.command()
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
              callback=config_callback_for("aggregator"),
              help="YAML file whose keys are these option names.")  # fmt: skip
@click.option("--broker", required=True, help="mqtt://host:port or mqtts://host:port to check.")
@click.option("--username", default=None, help="MQTT user name of the aggregator.")
@click.option("--password", default=None, help="MQTT password (better: BZAUDIT_DOCTOR_PASSWORD).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CA that signed the broker's TLS certificate.")  # fmt: skip
@click.option("--queue-probe", type=click.IntRange(1), default=1100, show_default=True,
              help="Messages queued for an offline probe session (Mosquitto's default limit "
              "is 1000).")  # fmt: skip
@click.option("--db", "--store", "db", default=None, metavar="PATH|URL",
              help="Also check that this store can be written.")  # fmt: skip
def doctor(**kw: Any) -> None:
    """Check the broker's limits (message size, queue depth for our session) and the store."""
    from aggregator.ingest.subscribe import probe_broker
    from scanner.wire.broker import BrokerConfigError, explain, parse_broker_url

    try:
        broker = parse_broker_url(kw["broker"], username=kw["username"],
                                  password=kw["password"], ca_file=kw["ca_file"])  # fmt: skip
        broker.tls_context()
    except BrokerConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    lines: list[tuple[str, str, str]] = []
    try:
        lines += [(p.status, p.name, p.detail) for p in asyncio.run(
            probe_broker(broker, queue_messages=kw["queue_probe"]))]  # fmt: skip
    except Exception as exc:  # any failure to probe is a finding, not a crash
        lines.append(("fail", "broker", explain(exc, broker)))
    if kw["db"] is not None:
        lines.append(_store_line(kw["db"]))
    for status, name, detail in lines:
        click.echo(f"{status:4}  {name}: {detail}")
    if any(status == "fail" for status, _, _ in lines):
        sys.exit(1)


def _store_line(db: str) -> tuple[str, str, str]:
    from aggregator.store import open_store
    from aggregator.store.interface import StoreError

    try:
        store = open_store(db)
        try:
            store.check_writable()
        finally:
            store.close()
    except StoreError as exc:
        return ("fail", "store", f"{exc} ({exc.cause or 'not a store'})")
    return ("ok", "store", f"{db} can be written")
