"""`bzagg web`: serve the dashboard (read-only on the store); `bzagg web adduser` makes logins."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

log = logging.getLogger(__name__)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _listen(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise click.BadParameter(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"{value!r}: not a time zone name") from exc


@click.group("web", invoke_without_command=True)
@click.option("--db", "--store", "db", default="bzaudit.sqlite3", show_default=True,
              metavar="PATH|URL", help="Aggregator store (a SQLite file or postgresql://"
              "user@host/db), opened read-only.")  # fmt: skip
@click.option("--listen", default="127.0.0.1:8080", show_default=True, callback=_listen,
              help="HOST:PORT to serve on; keep it on loopback behind the TLS proxy.")  # fmt: skip
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Users file made by `bzagg web adduser` (required).")  # fmt: skip
@click.option("--secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Cookie-signing key (created 0600 if missing); without it sessions end "
              "when the process does.")  # fmt: skip
@click.option("--sites-file", type=_FILE, default=None, help="Site registry, as for report.")
@click.option("--params", "params_path", type=_FILE, default=None,
              help="Estimation parameters, as for report (default: packaged).")  # fmt: skip
@click.option("--target", type=click.FloatRange(0, 1), default=None,
              help="Adoption target, e.g. 0.5.")  # fmt: skip
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date the target must be reached, e.g. 2020-08-20.")  # fmt: skip
@click.option(
    "--tz",
    "--timezone",
    "tz",
    default="Asia/Ho_Chi_Minh",
    show_default=True,
    callback=_zone,
    help="Time zone of days, hours and times, as for report.",
)
@click.option(
    "--k-min",
    "k_min",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Suppress figures resting on fewer smartphone owners, as for report.",
)
@click.option(
    "--refresh",
    "refresh_s",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Least seconds between recomputations as windows arrive.",
)
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Proxies whose X-Forwarded-For/-Proto are trusted (uvicorn).")  # fmt: skip
@click.pass_context
def web(ctx: click.Context, /, **kw: Any) -> None:
    """Serve the live dashboard (province, districts, sites, nodes) and its JSON API."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from aggregator.errors import AggregatorError
    from aggregator.sites import SiteError, load_registry
    from aggregator.store import is_url, open_store
    from aggregator.web import Figures, WebConfig, create_app
    from aggregator.web.auth import load_secret, load_users
    from scanner.estimation.params import ParamsError, load_params

    if kw["users_file"] is None:
        raise click.UsageError("--users FILE is required (create it with `bzagg web adduser`)")
    if not is_url(kw["db"]) and not Path(kw["db"]).exists():
        raise click.ClickException(f"no store at {kw['db']} (run `bzagg serve` or pass --db)")
    try:
        load_users(kw["users_file"])
        registry = load_registry(kw["sites_file"])
        params = load_params(kw["params_path"])
        secret = load_secret(kw["secret_file"])
        # Fail here, not inside the server's startup (StoreError is an AggregatorError).
        open_store(kw["db"], read_only=True).close()
    except (AggregatorError, SiteError, ParamsError) as exc:
        raise click.ClickException(str(exc)) from exc
    if kw["secret_file"] is None:
        log.warning("no --secret-file: sessions end when bzagg web stops")
    args: list[str] = []
    if kw["sites_file"]:
        args += ["--sites-file", str(kw["sites_file"])]
    if kw["params_path"]:
        args += ["--params", str(kw["params_path"])]
    deadline: datetime | None = kw["deadline"]
    figures = Figures(registry=registry, params=params, target=kw["target"],
                      deadline=deadline.date() if deadline else None, tz=kw["tz"].key,
                      k_min=kw["k_min"],
                      report_args=("--db", str(kw["db"]), *args))  # fmt: skip
    cfg = WebConfig(db=kw["db"], figures=figures, users_file=kw["users_file"], secret=secret,
                    tz=kw["tz"], refresh_s=kw["refresh_s"],
                    poll_s=min(1.0, kw["refresh_s"]))  # fmt: skip
    host, port = kw["listen"]
    click.echo(f"bzagg web: http://{host}:{port}/ (store {kw['db']}, read-only)", err=True)
    config = uvicorn.Config(
        create_app(cfg), host=host, port=port, proxy_headers=True,
        forwarded_allow_ips=kw["forwarded_allow_ips"], log_config=None,
        timeout_graceful_shutdown=3, server_header=False,
    )  # fmt: skip
    uvicorn.Server(config).run()


@web.command("adduser")
@click.argument("name")
@click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Users file (created, mode 0600, if missing).")  # fmt: skip
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def adduser(name: str, users_file: Path, password_stdin: bool) -> None:
    """Add a dashboard user, or set a new password for one."""
    from aggregator.web.auth import UsersError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        new = add_user(users_file, name, password)
    except UsersError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{'added' if new else 'updated'} {name} in {users_file}", err=True)
