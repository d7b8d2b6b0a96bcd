"""`bzagg nodes`: node health (the default), and `add` / `revoke` of node credentials."""

from __future__ import annotations

import json
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import click

from aggregator.enrolment import DEFAULT_KEYS, DEFAULT_PASSWD

# Where deploy/pi/install.sh puts things on the node (the snippet names them).
NODE_CONF = "/etc/bluezone-audit"
NODE_STATE = "/var/lib/bluezone-audit"


def _check_options(f: Any) -> Any:
    f = click.option("--max-clock-skew", type=click.FloatRange(0), default=300.0,
                     show_default=True,
                     help="--check: seconds a node's clock may disagree with ours.")(f)  # fmt: skip
    f = click.option("--max-unconfirmed", type=click.FloatRange(0), default=3600.0,
                     show_default=True,
                     help="--check: seconds a window may wait above a missing one.")(f)  # fmt: skip
    return click.option("--check", is_flag=True,
                        help="Print ALERT lines and exit 1 past a threshold.")(f)  # fmt: skip


@click.group(invoke_without_command=True)
@click.option("--db", "--store", "db", default="bzaudit.sqlite3", show_default=True,
              help="Aggregator store: a SQLite file or postgresql://... URL.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per node.")
@_check_options
@click.pass_context
def nodes(ctx: click.Context, /, db: str, as_json: bool, **check: Any) -> None:
    """Nodes: last seen, status, windows, seq gaps, rejects, ack, unconfirmed age, conflicts,
    clock skew.

    `bzagg nodes add NAME` and `bzagg nodes revoke NAME` manage a node's credentials.
    """
    if ctx.invoked_subcommand is None:
        _list(db, as_json, **check)


@nodes.command("list")
@click.option("--db", "--store", "db", default="bzaudit.sqlite3", show_default=True,
              help="Aggregator store: a SQLite file or postgresql://... URL.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per node.")
@_check_options
def list_cmd(db: str, as_json: bool, **check: Any) -> None:
    """The same table as `bzagg nodes`."""
    _list(db, as_json, **check)


def _list(
    db: str, as_json: bool, *, check: bool, max_unconfirmed: float, max_clock_skew: float
) -> None:
    from aggregator.ingest.serve import NODE_HEADER, format_table, node_alerts, node_table
    from aggregator.store import is_url

    if not is_url(db) and not Path(db).exists():
        raise click.ClickException(f"no store at {db} (run `bzagg serve` or pass --db)")
    rows = node_table(db)
    if as_json:
        keys = [h.replace(" (UTC)", "").replace(" ", "_") for h in NODE_HEADER]
        for r in rows:
            click.echo(json.dumps(dict(zip(keys, r, strict=True))))
    else:
        click.echo(format_table(NODE_HEADER, rows))
    if check:
        alerts = node_alerts(rows, max_unconfirmed_s=max_unconfirmed, max_skew_s=max_clock_skew)
        for line in alerts:
            click.echo(line, err=True)
        if alerts:
            sys.exit(1)


def _files(f: Any) -> Any:
    f = click.option("--passwd-file", type=click.Path(dir_okay=False, path_type=Path),
                     default=DEFAULT_PASSWD, show_default=True,
                     help="Mosquitto password file.")(f)  # fmt: skip
    return click.option("--keys-file", type=click.Path(dir_okay=False, path_type=Path),
                        default=DEFAULT_KEYS, show_default=True,
                        help="The aggregator's node signing keys (YAML).")(f)  # fmt: skip


@nodes.command("add")
@click.argument("name")
@click.option("--site", default=None, help="Site id the node starts at (it may move later).")
@click.option("--broker", default=None,
              help="Broker URL for the node [default: mqtts://<this host>:8883].")  # fmt: skip
@_files
def add_cmd(name: str, site: str | None, broker: str | None, passwd_file: Path,
            keys_file: Path) -> None:  # fmt: skip
    """Create NAME's broker account and signing key; print its config and the Pi command once."""
    from aggregator.enrolment import EnrolmentError, add_node

    try:
        e = add_node(name, passwd=passwd_file, keys=keys_file)
    except EnrolmentError as exc:
        raise click.ClickException(str(exc)) from exc
    broker = broker or f"mqtts://{socket.getfqdn()}:8883"
    site_arg = site or "SITE-ID"
    click.echo(f"node {name}: broker account added to {passwd_file}, signing key to {keys_file}.")
    click.echo("The password and key are shown only this once; nothing else keeps the password.\n")
    click.echo(f"# {NODE_CONF}/scanner.yaml on the node (install.sh below writes it):")
    for line in snippet(name, site_arg, broker):
        click.echo(line)
    cmd = " ".join(shlex.quote(a) for a in (
        "sudo", "deploy/pi/install.sh", "--node", name, "--site", site_arg, "--broker", broker,
        "--ca-file", "ca.crt", "--secrets-stdin",
    ))  # fmt: skip
    secrets = " ".join(
        shlex.quote(s) for s in (f"BZAUDIT_PASSWORD={e.password}", f"BZAUDIT_HMAC_KEY={e.key}")
    )
    click.echo(
        "\n# On the Pi, in a bluezone-audit checkout with the broker's ca.crt beside it (the "
        "leading space keeps the line out of bash's history):"
    )
    click.echo(f" printf '%s\\n' {secrets} | {cmd}")
    click.echo(
        "\n# Then here: sudo systemctl reload mosquitto && sudo systemctl restart bzagg "
        f"(aggregator.yaml must say keys: {keys_file})"
    )


def snippet(node: str, site: str, broker: str) -> list[str]:
    return [
        f"node: {node}",
        f"site: {site}",
        f"broker: {broker}",
        f"username: {node}",
        f"ca-file: {NODE_CONF}/ca.crt",
        f"hmac-key-file: {NODE_CONF}/node.key",
        f"outbox: {NODE_STATE}/outbox.sqlite3",
    ]


@nodes.command("revoke")
@click.argument("name")
@_files
def revoke_cmd(name: str, passwd_file: Path, keys_file: Path) -> None:
    """Remove NAME's broker account and signing key (reload the broker afterwards)."""
    from aggregator.enrolment import EnrolmentError, revoke_node

    try:
        found = revoke_node(name, passwd=passwd_file, keys=keys_file)
    except EnrolmentError as exc:
        raise click.ClickException(str(exc)) from exc
    if not found:
        raise click.ClickException(f"node {name!r} has no broker account and no key")
    click.echo(f"node {name}: broker account and signing key removed.")
    click.echo(
        "Now: sudo systemctl reload mosquitto (SIGHUP: the broker re-reads its password file; "
        "a connected session is dropped) && sudo systemctl restart bzagg"
    )
