"""The aggregator's store: a typed interface (interface.py) and its SQLite and PostgreSQL
backends; all SQL lives in this package."""

from __future__ import annotations

from pathlib import Path

from aggregator.store.interface import WindowStore

PG_SCHEMES = ("postgresql://", "postgres://")


def is_url(target: str | Path) -> bool:
    return str(target).startswith(PG_SCHEMES)


def open_store(target: str | Path, **kw: object) -> WindowStore:
    """A PostgreSQL store for a `postgresql://` URL, else the SQLite file at that path."""
    if is_url(target):
        from aggregator.store.postgres import PgStore  # psycopg only when asked for

        pg: WindowStore = PgStore(str(target), **kw)  # type: ignore[arg-type]
        return pg
    from aggregator.store.sqlite import Store

    lite: WindowStore = Store(Path(target), **kw)  # type: ignore[arg-type]
    return lite
