"""`bzagg`: the aggregator's command line. Command bodies live in their own modules.

Config precedence CLI > environment (BZAUDIT_<COMMAND>_<OPTION>) > YAML (--config) > defaults,
done by click's `default_map` and `auto_envvar_prefix` (docs/architecture.md §10).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

import click

from aggregator.errors import AggregatorError
from scanner.clikit.config import config_callback_for
from scanner.clikit.types import LazyGroup
from scanner.errors import ScannerError

ENV_PREFIX = "BZAUDIT"
DEFAULT_DB = "bzaudit.sqlite3"


def _config_option(f: Any) -> Any:
    return click.option(
        "--config", type=click.Path(dir_okay=False), is_eager=True, expose_value=False,
        callback=config_callback_for("aggregator"),
        help="YAML file whose keys are these option names (default: the first of "
        "$XDG_CONFIG_HOME/bluezone-audit/aggregator.yaml, /etc/bluezone-audit/aggregator.yaml).",
    )(f)  # fmt: skip


def _db_option(f: Any) -> Any:
    return click.option(
        "--db", "--store", "db", default=DEFAULT_DB, show_default=True, metavar="PATH|URL",
        help="Aggregator store: a SQLite file, or postgresql://user@host/db.",
    )(f)  # fmt: skip


def _keys_option(f: Any) -> Any:
    return click.option(
        "--keys", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
        help="YAML `node: key` map; when given, unsigned or badly signed windows are rejected.",
    )(f)  # fmt: skip


@click.group(
    cls=LazyGroup,
    lazy={
        "demo": "aggregator.cli.demo:demo",
        "doctor": "aggregator.cli.doctor:doctor",
        "nodes": "aggregator.cli.nodes:nodes",
        "report": "aggregator.cli.report:report",
        "sites": "aggregator.cli.sites:sites",
        "web": "aggregator.cli.web:web",
    },
    errors=(AggregatorError, ScannerError),
    context_settings={"auto_envvar_prefix": ENV_PREFIX},
)
@_config_option
@click.option("-v", "--verbose", count=True, help="More log output on stderr.")
@click.version_option(package_name="bluezone-audit", prog_name="bzagg")
def main(verbose: int) -> None:
    """Aggregate anonymised window counts from scanner nodes and report adoption."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
@_config_option
@click.option("--broker", default=None,
              help="mqtt://host:port or mqtts://host:port (default: embedded broker).")  # fmt: skip
@click.option("--embedded-broker", is_flag=True, help="Run an in-process broker on 127.0.0.1.")
@click.option("--embedded-port", type=click.IntRange(0, 65535), default=1883, show_default=True,
              help="Port of the embedded broker (0: any free port).")  # fmt: skip
@_db_option
@_keys_option
@click.option("--username", default=None, help="MQTT user name of the aggregator.")
@click.option("--password", default=None, help="MQTT password (better: BZAUDIT_SERVE_PASSWORD).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CA that signed the broker's TLS certificate.")  # fmt: skip
@click.option("--cert-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Client certificate (PEM), if the broker asks.")  # fmt: skip
@click.option("--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Private key of --cert-file.")  # fmt: skip
@click.option("--client-id", default="bzagg", show_default=True,
              help="MQTT client id; fixed so the broker keeps our session.")  # fmt: skip
@click.option("--batch-max", type=click.IntRange(1), default=1000, show_default=True,
              help="Most messages committed in one transaction.")  # fmt: skip
@click.option("--share-group", default=None, metavar="NAME",
              help="Consume windows through the MQTT shared subscription $share/NAME/... so "
              "several aggregators split the load (each needs its own --client-id).")  # fmt: skip
@click.option("--cache-mb", type=click.IntRange(1), default=2, show_default=True,
              help="SQLite page cache of the writer, MB; 64 drains a big backlog faster "
              "(docs/deployment.md).")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Subscriber processes (client ids <client-id>-1..N) on one shared "
              "subscription (--share-group, default: the client id).")  # fmt: skip
@click.option("--duration", type=click.FloatRange(0), default=None,
              help="Stop after this many seconds (default: until SIGINT/SIGTERM).")  # fmt: skip
def serve(**kw: Any) -> None:
    """Subscribe to every node's windows and status and store them."""
    from aggregator.ingest.serve import KeysError, ServeOptions, load_keys, serve
    from scanner.wire.broker import BrokerConfigError, parse_broker_url

    if kw["broker"] and kw["embedded_broker"]:
        raise click.UsageError("give either --broker or --embedded-broker, not both")
    if kw["workers"] > 1 and not kw["broker"]:
        raise click.UsageError("--workers needs --broker (the embedded broker is per process)")
    try:
        broker = None
        if kw["broker"]:
            broker = parse_broker_url(
                kw["broker"], username=kw["username"], password=kw["password"],
                ca_file=kw["ca_file"], cert_file=kw["cert_file"], key_file=kw["key_file"],
            )  # fmt: skip
            broker.tls_context()
        keys = load_keys(kw["keys"]) if kw["keys"] else None
    except (BrokerConfigError, KeysError) as exc:
        raise click.UsageError(str(exc)) from exc
    opts = ServeOptions(
        db=kw["db"], broker=broker, embedded_port=kw["embedded_port"], keys=keys,
        client_id=kw["client_id"], batch_max=kw["batch_max"], duration_s=kw["duration"],
        share_group=kw["share_group"], cache_mb=kw["cache_mb"],
    )  # fmt: skip
    if kw["workers"] > 1:
        from aggregator.ingest.workers import serve_workers

        serve_workers(opts, kw["workers"], lambda s: click.echo(s, err=True))
        return
    asyncio.run(serve(opts, lambda s: click.echo(s, err=True)))


@main.command()
@click.argument("outbox", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_db_option
@_keys_option
def ingest(outbox: Path, db: str, keys: Path | None) -> None:
    """Import the windows of a node outbox carried back from an offline visit."""
    from aggregator.ingest.serve import KeysError, ingest_outbox, load_keys
    from aggregator.store.interface import StoreError

    try:
        stats = ingest_outbox(outbox, db, load_keys(keys) if keys else None)
    except (StoreError, KeysError) as exc:
        raise click.ClickException(str(exc)) from exc
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(stats.reasons.items()))
    click.echo(
        f"{outbox}: {stats.received} windows, {stats.stored} stored, "
        f"{stats.duplicates} already there, {stats.rejected} rejected"
        + (f" ({reasons})" if reasons else "")
    )


if __name__ == "__main__":  # pragma: no cover
    main()
