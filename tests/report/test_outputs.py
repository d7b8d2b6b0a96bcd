"""`bzagg report` over a seeded store: golden table/CSV/JSON, SQL = node-side sums, options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli.report import report
from scanner.estimation.estimate import clusters_from_reports
from scanner.estimation.params import DEFAULT_PARAMS
from tests.report.seed import seeded_reports

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"
SITES = ROOT / "config" / "sites.yaml"
PARAMS = ROOT / "config" / "estimation.yaml"
UPDATE = os.environ.get("BZ_UPDATE_GOLDEN") == "1"


def run(db: Path | str, *args: str) -> str:
    res = CliRunner().invoke(
        report, ["--db", str(db), "--sites-file", str(SITES), "--params", str(PARAMS), *args]
    )
    assert res.exit_code == 0, res.output
    return res.stdout  # the "files used" line goes to stderr


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (BZ_UPDATE_GOLDEN=1 rewrites)"


def test_sql_cluster_sums_equal_node_side_sums(tmp_path: Path) -> None:
    from aggregator.store.sqlite import Store

    store = Store(tmp_path / "plain.sqlite3", rollup=False)  # the full scan, slot sums included
    store.add_windows(list(seeded_reports()))
    rows = [c.totals for c in store.clusters(DEFAULT_PARAMS, since=0, until=2**40)]
    store.close()
    node_side = clusters_from_reports(seeded_reports(), DEFAULT_PARAMS)
    assert len(rows) == len(node_side) > 10
    for got, c in zip(rows, node_side, strict=True):
        assert (got.site, got.node, got.day) == (c.site, c.node, c.day)
        ints = ("windows", "used", "excl_clock", "excl_coverage", "ios_fg", "ios_bg", "iphone",
                "phone", "android_win")  # fmt: skip
        assert [getattr(got, k) for k in ints] == [getattr(c, k) for k in ints]
        for k in ("android_hat_tau", "android_tau", "android_p_tau", "headcount"):
            assert getattr(got, k) == pytest.approx(getattr(c, k))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        (
            "report-district.txt",
            ["--by", "district", "--target", "0.5", "--deadline", "2020-08-20"],
        ),
        ("report-type-day.csv", ["--by", "type,day", "--format", "csv"]),
        ("report-site.json", ["--by", "site", "--format", "json", "--target", "0.5"]),
        ("report-district-vi.txt", ["--by", "district", "--lang", "vi"]),
        ("report-site-vi.txt", ["--by", "site", "--lang", "vi", "--target", "0.5"]),
        ("report-type-day-vi.csv", ["--by", "type,day", "--format", "csv", "--lang", "vi"]),
        (
            "report-site-vi.json",
            ["--by", "site", "--format", "json", "--target", "0.5", "--lang", "vi"],
        ),
        ("report-hour.csv", ["--by", "site,hour", "--format", "csv", "--target", "0.5"]),
    ],
)
def test_golden_outputs(seeded_db: Path, name: str, args: list[str]) -> None:
    check_golden(name, run(seeded_db, *args))


def test_json_flags_unregistered_site_and_counts_exclusions(seeded_db: Path) -> None:
    out = json.loads(run(seeded_db, "--by", "site", "--format", "json"))
    assert out["unregistered_sites"] == ["zz-unknown-site"]
    rows = {r["keys"]["site"]: r for r in out["rows"]}
    assert rows["zz-unknown-site"]["registered"] is False
    assert rows["ptc-ubnd-tinh"]["registered"] is True
    total = out["total"]
    assert total["windows"] == sum(1 for _ in seeded_reports())
    assert total["excluded"]["clock"] > 0 and total["excluded"]["coverage"] > 0
    # Markets have no head count and no staff count: head-count estimate says why.
    hc = rows["ptc-market-01"]["estimates"]["headcount"]
    assert hc["value"] is None and "no head count" in hc["reason"]
    assert out["parameters"]["smartphone_share"]["source"].startswith("assumption")


def test_filters_by_site_district_and_dates(seeded_db: Path) -> None:
    one = json.loads(run(seeded_db, "--site", "nh-ubnd", "--by", "site,day", "--format", "json"))
    assert [r["keys"] for r in one["rows"]] == [
        {"site": "nh-ubnd", "day": "2020-08-10"}, {"site": "nh-ubnd", "day": "2020-08-12"}
    ]  # fmt: skip
    dist = json.loads(run(seeded_db, "--district", "Ninh Hải", "--by", "site", "--format", "json"))
    assert {r["keys"]["site"] for r in dist["rows"]} == {"nh-ubnd", "nh-market-khanh-hai"}
    day = json.loads(run(seeded_db, "--since", "2020-08-11", "--until", "2020-08-11", "--by", "day",
                         "--format", "json"))  # fmt: skip
    assert [r["keys"]["day"] for r in day["rows"]] == ["2020-08-11"]


def test_by_hour_and_bad_by(seeded_db: Path) -> None:
    out = json.loads(run(seeded_db, "--by", "hour", "--format", "json"))
    assert {r["keys"]["hour"] for r in out["rows"]} == {"08"}  # 01:00 UTC, Vietnam time
    out = json.loads(run(seeded_db, "--by", "hour", "--tz", "UTC", "--format", "json"))
    assert {r["keys"]["hour"] for r in out["rows"]} == {"01"}
    res = CliRunner().invoke(report, ["--db", str(seeded_db), "--by", "province"])
    assert res.exit_code == 2 and "choose from" in res.output


def test_missing_store_and_xlsx_without_out(tmp_path: Path) -> None:
    res = CliRunner().invoke(report, ["--db", str(tmp_path / "none.sqlite3")])
    assert res.exit_code == 1 and "no store" in res.output
    res = CliRunner().invoke(report, ["--db", str(tmp_path / "x"), "--format", "xlsx"])
    assert res.exit_code == 2 and "--out" in res.output


def test_rollup_and_full_scan_give_the_same_report(seeded_db: Path, tmp_path: Path) -> None:
    from aggregator.store.sqlite import Store

    plain = tmp_path / "plain.sqlite3"
    store = Store(plain, rollup=False)
    for r in seeded_reports():
        store.insert(r)
    store.close()
    assert not Store(plain).has_rollup
    for by in ("district,day", "site,hour", "type"):
        args = ["--by", by, "--format", "json", "--target", "0.5"]
        assert run(plain, *args) == run(seeded_db, *args)


def test_duplicate_windows_do_not_change_the_report(seeded_db: Path, tmp_path: Path) -> None:
    from aggregator.store.sqlite import Store

    db = tmp_path / "dup.sqlite3"
    store = Store(db)
    reports = list(seeded_reports())
    for r in reports + reports[:50]:  # redelivered windows are no-ops (idempotency key)
        store.insert(r)
    store.close()
    assert run(db, "--by", "site", "--format", "json") == run(
        seeded_db, "--by", "site", "--format", "json"
    )


def test_installed_console_script(seeded_db: Path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "bzagg"
    out = subprocess.run(
        [str(exe), "report", "--db", str(seeded_db), "--sites-file", str(SITES), "--params",
         str(PARAMS), "--by", "district", "--format", "csv"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    assert out.stdout == run(seeded_db, "--by", "district", "--format", "csv")
    cmd = [str(exe), "sites", "list", "--sites-file", str(SITES), "--db", str(seeded_db)]
    listed = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "unregistered: zz-unknown-site (20 windows stored, flagged in reports)" in listed.stdout
