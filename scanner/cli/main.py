"""`bzscan`: the scanner node's command line (replay, live, doctor, simulate)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from scanner import __version__
from scanner.clikit.config import config_callback_for
from scanner.clikit.types import DURATION, LazyGroup
from scanner.errors import ScannerError
from scanner.wire.schema import SLOT_SECONDS, SchemaError, check_id

ENV_PREFIX = "BZAUDIT"
_CHATTY_LIBRARIES = ("bleak", "dbus_fast")


def _window(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value <= 0 or SLOT_SECONDS % value:
        raise click.BadParameter(
            f"{value} does not divide {SLOT_SECONDS} s; Bluezone IDs rotate on UTC quarter hours, "
            "so use e.g. 30, 60, 300 or 900"
        )
    return value


def _node_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_id(value, param.name or "id")
    except SchemaError as exc:
        raise click.BadParameter(exc.detail) from exc


@click.group(
    cls=LazyGroup,
    lazy={
        "doctor": "scanner.cli.live:doctor_cmd",
        "simulate": "scanner.cli.simulate:simulate_cmd",
        "calibrate": "scanner.cli.calibrate:calibrate_cmd",
    },
    errors=(ScannerError,),
    invoke_without_command=True,
    context_settings={"auto_envvar_prefix": ENV_PREFIX},
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=config_callback_for("scanner"),
    help="YAML file whose keys are these option names (default: the first of "
    "$XDG_CONFIG_HOME/bluezone-audit/scanner.yaml, /etc/bluezone-audit/scanner.yaml).",
)
@click.option(
    "--site",
    default=None,
    callback=_node_id,
    help="Site id (from the site registry); required for live scans (replay: site-unknown).",
)
@click.option(
    "--node",
    default=None,
    callback=_node_id,
    help="Node id; required for live scans (replay: node-1).",
)
@click.option(
    "--window",
    "window_s",
    envvar=f"{ENV_PREFIX}_WINDOW",  # named after the option, not the parameter
    type=int,
    default=60,
    callback=_window,
    show_default=True,
    help="Window length in seconds; must divide 900.",
)
@click.option(
    "--rssi-min",
    "rssi_min_dbm",
    envvar=f"{ENV_PREFIX}_RSSI_MIN",
    type=click.IntRange(-127, 20),
    default=-127,
    show_default=True,
    help="RSSI gate in dBm: weaker adverts are not on site.",
)
@click.option(
    "--signatures",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Signature file (default: the packaged signatures.yaml).",
)
@click.option(
    "--headcount",
    type=click.IntRange(0),
    default=None,
    help="People present, counted by the inspector.",
)
@click.option(
    "--smartphones",
    type=click.IntRange(0),
    default=None,
    help="Smartphone owners present, counted or asked; replaces head count x assumed share.",
)
@click.option(
    "--site-type",
    type=click.Choice(["office", "market", "counter"]),
    default=None,
    help="Site type for the end-of-visit estimate (turnover prior); default office.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Replay a pcap/pcapng/btsnoop/JSONL capture instead of scanning.",
)
@click.option("--realtime/--fast", default=False, help="Pace a replay like the original capture.")
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Live: also write every advert (with addresses!) to FILE (pcapng, or JSONL by suffix).",
)
@click.option(
    "--mode",
    type=click.Choice(["active", "passive"]),
    default="active",
    show_default=True,
    help="Live: active (any OS) or passive (Linux, -E).",
)
@click.option("--adapter", default=None, help="Live scanning: adapter to use, e.g. hci1.")
@click.option(
    "--duration",
    type=DURATION,
    default=None,
    help="Live: stop after e.g. 10m, 90s or 1h (default: until stopped).",
)
@click.option(
    "--watchdog",
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    help="Live: restart the scanner after this many silent seconds (0: off).",
)
@click.option(
    "--dry-run", is_flag=True, help="Count and print only; publish nothing, keep no outbox."
)
@click.option(
    "--broker", default=None, help="mqtt://host:port or mqtts://host:port (else: outbox only)."
)
@click.option(
    "--outbox",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Outbox (with --broker: ~/.local/state/bzaudit/outbox-NODE.sqlite3).",
)
@click.option("--username", default=None, help="MQTT user name (usually the node id).")
@click.option("--password", default=None, help="MQTT password (better: BZAUDIT_PASSWORD).")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CA that signed the broker's TLS certificate.",
)
@click.option(
    "--cert-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Client certificate (PEM), if the broker asks.",
)
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Private key of --cert-file.",
)
@click.option(
    "--hmac-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Per-node key: sign every window (HMAC-SHA256).",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Replay: seconds to wait for the aggregator to confirm the backlog.",
)
@click.option(
    "--resend-after",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Re-send a window the aggregator has not confirmed after this many seconds.",
)
@click.option(
    "--alert-after",
    type=click.FloatRange(0),
    default=3600.0,
    show_default=True,
    help="Log an ALERT when a window stays unconfirmed this many seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="One encoded WindowReport per line.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr.")
@click.version_option(__version__, prog_name="bzscan")
@click.pass_context
def main(ctx: click.Context, /, **kw: Any) -> None:
    """Count Bluezone phones and phones in general; publish anonymised counts per window."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(kw["verbose"], 2),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # bleak and dbus-fast log every D-Bus signal at DEBUG, addresses and advert bytes included:
    # -v must never put an identifier in a log (docs/architecture.md §5).
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    ctx.obj = kw
    if ctx.invoked_subcommand is not None:
        return
    if kw["replay"] is not None and kw["record"] is not None:
        raise click.UsageError("--record records a live scan; it cannot be used with --replay")
    if kw["replay"] is None:
        missing = [f"--{k}" for k in ("site", "node") if kw[k] is None]
        if missing:
            # Windows published as "site-unknown/node-1" cannot be told apart or placed.
            raise click.UsageError(
                f"a live scan needs {' and '.join(missing)}: e.g. `bzscan --site SITE --node NODE` "
                "(or set site: and node: in the config file; --replay FILE replays a capture)"
            )
        # Imported here so that a replay never imports bleak.
        from scanner.cli.live import run_live_cli

        run_live_cli(kw)
        return
    kw["site"] = kw["site"] or "site-unknown"
    kw["node"] = kw["node"] or "node-1"
    from scanner.cli.replay import run_replay

    run_replay(kw)


if __name__ == "__main__":  # pragma: no cover
    main()
