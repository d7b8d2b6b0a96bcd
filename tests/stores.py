"""Store backends for tests: SQLite in tmp_path, or a fresh database on the test PostgreSQL.

`make_store` is parametrised over both backends, so one test body checks both (the store
interface has one set of semantics)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from aggregator.store import open_store
from aggregator.store.interface import WindowStore

BACKENDS = ("sqlite", "postgresql")
_ids = itertools.count()


class MakeStore(Protocol):
    def __call__(self, **kw: Any) -> WindowStore: ...


def store_target(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store: a SQLite path, or the URL of a new PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / f"store-{next(_ids)}.sqlite3")
    pg = request.getfixturevalue("postgres")
    return str(pg.new_database())


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., WindowStore]]:
    opened: list[WindowStore] = []

    def make(**kw: Any) -> WindowStore:
        store = open_store(store_target(store_backend, request, tmp_path), **kw)
        opened.append(store)
        return store

    yield make
    for s in opened:
        with contextlib.suppress(Exception):  # already closed by the test
            s.close()
