"""`bzagg report`: adoption estimates with intervals as table, CSV, JSON, HTML or XLSX."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import click

from aggregator.report.tables import GROUP_KEYS, ReportOptions, build_report, day_bounds
from aggregator.sites import SiteError, load_registry
from scanner.clikit.config import config_used
from scanner.clikit.types import LANG_HELP, LANGS
from scanner.estimation.params import ParamsError, load_params

log = logging.getLogger(__name__)
FORMATS = ("table", "csv", "json", "html", "xlsx")


def _by(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    keys = tuple(k.strip() for v in value for k in v.split(",") if k.strip()) or ("district",)
    bad = [k for k in keys if k not in GROUP_KEYS]
    if bad:
        raise click.BadParameter(f"{', '.join(bad)}: choose from {', '.join(GROUP_KEYS)}")
    return tuple(dict.fromkeys(keys))


def _tz(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {name!r}", param_hint="--tz") from exc
    return name


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


@click.command("report")
@click.option(
    "--db",
    "--store",
    "db_path",
    default="bzaudit.sqlite3",
    show_default=True,
    metavar="PATH|URL",
    help="Aggregator store: a SQLite file, or postgresql://user@host/db.",
)
@click.option(
    "--by",
    multiple=True,
    callback=_by,
    help="Group by site|type|district|commune|day|hour (repeat or comma-separate).",
)
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First UTC day (inclusive)."
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last UTC day (inclusive)."
)
@click.option("--site", "sites", multiple=True, help="Only this site id (repeatable).")
@click.option("--district", "districts", multiple=True, help="Only sites of this district.")
@click.option(
    "--target",
    type=click.FloatRange(0, 1),
    default=None,
    help="Adoption target, e.g. 0.5: share of sites/districts at target, trend.",
)
@click.option(
    "--deadline",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Date the target must be reached, e.g. 2020-08-20.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--lang",
    type=LANGS,
    default=None,
    help=LANG_HELP + " Default: vi for html/xlsx, en otherwise.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output (required for xlsx).",
)
@click.option(
    "--sites-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Site registry (YAML; default: none, every site reported as unregistered).",
)
@click.option(
    "--tz",
    default="Asia/Ho_Chi_Minh",
    show_default=True,
    help="Time zone of --by day/hour labels (IANA name).",
)
@click.option(
    "--k-min",
    "k_min",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Suppress figures resting on fewer smartphone owners (small-cell rule).",
)
@click.option("--params", "params_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Estimation parameters (default: the packaged estimation.yaml).")  # fmt: skip
def report(
    db_path: str, by: tuple[str, ...], since: datetime | None, until: datetime | None,
    sites: tuple[str, ...], districts: tuple[str, ...], target: float | None,
    deadline: datetime | None, fmt: str, lang: str | None, out: Path | None,
    sites_file: Path | None, tz: str, k_min: int, params_path: Path | None,
) -> None:  # fmt: skip
    """Adoption by site, type, district, commune, day or hour, with 95 % intervals."""
    from aggregator.store import is_url, open_store  # opens sqlite3/psycopg only when needed

    lang = lang or ("vi" if fmt in ("html", "xlsx") else "en")
    if fmt == "xlsx" and out is None:
        raise click.UsageError("--format xlsx needs --out FILE")
    if not is_url(db_path) and not Path(db_path).exists():
        raise click.ClickException(f"no store at {db_path} (run `bzagg serve` or pass --db)")
    try:
        params = load_params(params_path)
        registry = load_registry(sites_file)
    except (ParamsError, SiteError) as exc:
        raise click.ClickException(str(exc)) from exc
    # Which files shaped the numbers, on stderr so that table/CSV/JSON output stays clean.
    config = config_used(click.get_current_context().find_root())
    click.echo(
        f"bzagg report: config {config or 'none'}; site registry {sites_file or 'none'}; "
        f"estimation parameters {params_path or 'packaged defaults'}",
        err=True,
    )
    lo, hi = day_bounds(_day(since), _day(until))
    options = ReportOptions(
        by=by, since=lo, until=hi, sites=sites, districts=districts,
        target=target, deadline=_day(deadline), tz=_tz(tz), k_min=k_min,
    )  # fmt: skip
    store = open_store(db_path)
    try:
        data = build_report(store, registry, params, options)
    finally:
        store.close()
    if fmt == "xlsx":
        from aggregator.report.xlsx import write_xlsx

        assert out is not None
        write_xlsx(data, out, lang)
        click.echo(f"wrote {out}", err=True)
        return
    text = _render(data, fmt, lang)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


def _render(data: object, fmt: str, lang: str) -> str:
    from aggregator.report import text as report_text
    from aggregator.report.summary import to_table
    from aggregator.report.tables import ReportData

    assert isinstance(data, ReportData)
    if fmt == "html":
        from aggregator.report.html import to_html

        return to_html(data, lang)
    if fmt == "csv":
        return report_text.to_csv(data, lang)
    if fmt == "json":
        return report_text.to_json(data, lang)
    return to_table(data, lang)


if __name__ == "__main__":
    report()
