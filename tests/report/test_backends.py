"""The same report from SQLite and from PostgreSQL: byte-identical table, CSV, JSON and HTML,
XLSX equal cell by cell; on both the per-window rollup and the full scan (slot counts)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from aggregator.store import open_store
from tests.report.seed import seeded_reports
from tests.report.test_outputs import PARAMS, run
from tests.stores import store_target


@pytest.fixture(scope="module")
def pg_db(postgres: object, request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("postgres").new_database()
    store = open_store(url)
    for r in seeded_reports():
        store.insert(r)
    store.close()
    return str(url)


@pytest.fixture
def slot_params(tmp_path: Path) -> Path:
    """The default parameters with per-slot Android counts: reports then read the full scan."""
    text = PARAMS.read_text(encoding="utf-8")
    marker = "android_slot_counts:\n  value: 0.0"
    assert marker in text
    path = tmp_path / "slot.yaml"
    path.write_text(text.replace(marker, "android_slot_counts:\n  value: 1.0"), "utf-8")
    return path


ARGS = [
    ["--by", "district", "--target", "0.5", "--deadline", "2020-08-20"],
    ["--by", "type,day", "--format", "csv"],
    ["--by", "site,hour", "--format", "json", "--target", "0.5"],
    ["--by", "district", "--lang", "vi"],
    ["--by", "commune", "--format", "html"],
    ["--by", "site", "--site", "nh-ubnd", "--since", "2020-08-11", "--format", "json"],
]


@pytest.mark.parametrize("args", ARGS, ids=lambda a: "-".join(a[1:4]))
def test_report_is_byte_identical_from_either_store(
    seeded_db: Path, pg_db: str, args: list[str]
) -> None:
    assert run(pg_db, *args) == run(seeded_db, *args)


def test_full_scan_report_is_identical_too(seeded_db: Path, pg_db: str, slot_params: Path) -> None:
    args = ["--by", "site,day", "--format", "json", "--params", str(slot_params)]
    assert run(pg_db, *args) == run(seeded_db, *args)


def test_xlsx_cells_are_equal(seeded_db: Path, pg_db: str, tmp_path: Path) -> None:
    sheets = []
    for name, db in (("lite", str(seeded_db)), ("pg", pg_db)):
        out = tmp_path / f"{name}.xlsx"
        run(db, "--by", "district", "--format", "xlsx", "--out", str(out))
        book = openpyxl.load_workbook(out)
        sheets.append({ws.title: [[c.value for c in row] for row in ws.iter_rows()]
                       for ws in book.worksheets})  # fmt: skip
    assert sheets[0] == sheets[1] and sheets[0]


def test_duplicates_do_not_change_the_report(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path, seeded_db: Path
) -> None:
    target = store_target(store_backend, request, tmp_path)
    store = open_store(target)
    reports = list(seeded_reports())
    store.add_windows(reports[:200])
    store.add_windows(reports[150:])  # an overlapping redelivery: 50 duplicates
    assert store.duplicates == 50
    store.close()
    args = ["--by", "site", "--format", "json"]
    assert run(target, *args) == run(seeded_db, *args)
