"""Fixtures for report tests: a real SQLite store seeded through the store's own insert API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.seed import seeded_reports


def seed_store(path: Path) -> Path:
    from aggregator.store.sqlite import Store

    store = Store(path)
    for r in seeded_reports():
        store.insert(r)
    store.close()
    return path


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_store(tmp_path_factory.mktemp("report") / "store.sqlite3")
