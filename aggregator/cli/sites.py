"""`bzagg sites`: import a registry from CSV/YAML and list it."""

from __future__ import annotations

from pathlib import Path

import click

from aggregator.report.columns import align
from aggregator.sites import SiteError, load_registry, merge, parse_sites, save_registry


@click.group("sites")
def sites() -> None:
    """The site registry: id, name, type, district, commune, staff, share overrides."""


@sites.command("import")
@click.argument("src", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sites-file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Registry to update (created if missing).")  # fmt: skip
def import_(src: Path, sites_file: Path) -> None:
    """Add or replace sites from SRC (.csv with a header row, or .yaml with a `sites:` list)."""
    try:
        new = parse_sites(src)
        registry, added, updated = merge(load_registry(sites_file), new)
    except SiteError as exc:
        raise click.ClickException(str(exc)) from exc
    save_registry(registry, sites_file)
    click.echo(f"{sites_file}: {added} added, {updated} updated, {len(registry.sites)} sites")


@sites.command("list")
@click.option("--sites-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Registry to list.")  # fmt: skip
@click.option(
    "--db",
    "db_path",
    default=None,
    metavar="PATH|URL",
    help="Also list site ids seen in this store but missing from the registry.",
)
def list_(sites_file: Path, db_path: str | None) -> None:
    """Print the registry, one site a line."""
    try:
        registry = load_registry(sites_file)
    except SiteError as exc:
        raise click.ClickException(str(exc)) from exc
    rows = [("id", "type", "district", "commune", "staff", "overrides", "name")]
    for s in sorted(registry.sites.values(), key=lambda s: (s.district, s.id)):
        pairs = (("smartphone_share", s.smartphone_share), ("ios_share", s.ios_share),
                 ("bluezone_shown", s.bluezone_shown))  # fmt: skip
        over = ",".join(f"{k}={v:g}" for k, v in pairs if v is not None)
        rows.append((s.id, s.type, s.district, s.commune, "" if s.staff is None else str(s.staff),
                     over, s.name))  # fmt: skip
    click.echo(align(rows))
    if db_path is not None:
        from aggregator.store import open_store

        store = open_store(db_path)
        try:
            seen = store.site_counts()
        finally:
            store.close()
        for site_id, n in seen:
            if registry.get(site_id) is None:
                click.echo(f"unregistered: {site_id} ({n} windows stored, flagged in reports)")
