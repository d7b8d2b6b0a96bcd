"""Small-cell protection in every output, and registry names that stay text (never formulas)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from aggregator.cli.report import report
from aggregator.report.xlsx import sheet_names
from aggregator.store.sqlite import Store
from scanner.wire.schema import Health, WindowReport
from tests.report.seed import DAY0, seeded_reports

ROOT = Path(__file__).resolve().parents[2]
TINY = "nh-tiny-office"  # 4 people, smartphone share 0.75: 3 smartphone owners
EVIL = ('=HYPERLINK("http://example.invalid/x","click")', "@SUM(1+1)")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("small")
    sites = yaml.safe_load((ROOT / "config" / "sites.yaml").read_text(encoding="utf-8"))["sites"]
    for s in sites:
        if s["id"] == "nh-ubnd":
            s["name"] = EVIL[0]
        if s["id"] == "nh-market-khanh-hai":
            s["name"] = EVIL[1]
    sites.append({"id": TINY, "name": "Trạm nhỏ", "type": "office", "district": "Ninh Hải",
                  "commune": "Thị trấn Khánh Hải", "smartphone_share": 0.75})  # fmt: skip
    reg = tmp / "sites.yaml"
    reg.write_text(yaml.safe_dump({"sites": sites}, allow_unicode=True), encoding="utf-8")
    db = tmp / "store.sqlite3"
    st = Store(db)
    for r in seeded_reports():
        st.insert(r)
    for i in range(20):
        st.insert(WindowReport(
            node="lap-tiny", site=TINY, seq=i, window_start=DAY0 + 5400 + 60 * i, window_s=60,
            counts={"bluezone": {"android": 1, "ios_fg": 0, "ios_bg": 0}, "iphone": {"all": 1},
                    "phone": {"en": 0}, "other": {"all": 0}},
            slot_counts={"bluezone": {"android": 2}},
            health=Health(scanned_s=60.0, adverts=100, mode="passive", clock_synced=None),
            headcount=4,
        ))  # fmt: skip
    st.close()
    return db, reg


def run(store: tuple[Path, Path], *args: str) -> str:
    db, reg = store
    res = CliRunner().invoke(report, ["--db", str(db), "--sites-file", str(reg), *args])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_site_with_three_owners_is_suppressed_everywhere(store: tuple[Path, Path],
                                                        tmp_path: Path) -> None:  # fmt: skip
    js = json.loads(run(store, "--by", "site", "--format", "json", "--target", "0.5"))
    tiny = next(r for r in js["rows"] if r["keys"]["site"] == TINY)
    assert tiny["headline"]["suppressed"] is True and "value" not in tiny["headline"]
    assert all(e == {"suppressed": True} for e in tiny["estimates"].values())
    opened = json.loads(run(store, "--by", "site", "--format", "json", "--k-min", "1"))
    value = next(r for r in opened["rows"] if r["keys"]["site"] == TINY)["headline"]["value"]
    assert value is not None  # with k_min 1 the same row is published: the rule hid it
    shown = f"{100 * value:.1f}"

    table = run(store, "--by", "site", "--target", "0.5")
    line = next(ln for ln in table.splitlines() if ln.startswith(TINY))
    assert "suppressed (< 5 smartphone owners)" in line and shown not in line
    rows = list(csv.DictReader(io.StringIO(run(store, "--by", "site", "--format", "csv"))))
    row = next(r for r in rows if r["site"] == TINY)
    assert row["adoption"] == row["headcount"] == row["ios_internal"] == ""
    assert row["note"].startswith("suppressed")
    html_path, xlsx_path = tmp_path / "r.html", tmp_path / "r.xlsx"
    run(store, "--by", "site", "--format", "html", "--out", str(html_path), "--target", "0.5")
    html = html_path.read_text(encoding="utf-8")
    cells = html.split(f"<td>{TINY}</td>")[1:]
    assert cells and all("ẩn (&lt; 5 người có điện thoại)" in c.split("</tr>")[0] for c in cells)
    assert all(shown not in c.split("</tr>")[0] for c in cells)
    run(store, "--by", "site", "--format", "xlsx", "--out", str(xlsx_path), "--target", "0.5")
    wb = openpyxl.load_workbook(xlsx_path)
    for name in (sheet_names("vi")[0], sheet_names("vi")[2]):
        ws = wb[name]
        head = [c.value for c in ws[1]]
        hit = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == TINY]
        assert hit, name
        got = dict(zip(head, hit[0], strict=True))
        assert got["Tỷ lệ cài đặt (%)"] is None and got["Theo số người"] is None
        assert str(got["Ghi chú"]).startswith("ẩn")
    wb.close()


def test_district_figure_is_unchanged_by_the_suppression(store: tuple[Path, Path]) -> None:
    def district(*extra: str) -> dict[str, object]:
        js = json.loads(run(store, "--by", "district", "--format", "json", *extra))
        return next(r for r in js["rows"] if r["keys"]["district"] == "Ninh Hải")["headline"]

    hidden, open_ = district(), district("--k-min", "1")
    assert hidden == open_ and hidden["value"] is not None
    without = json.loads(run(store, "--by", "district", "--format", "json", "--site", "nh-ubnd",
                             "--site", "nh-market-khanh-hai"))  # fmt: skip
    assert without["rows"][0]["headline"]["value"] != hidden["value"]  # the tiny site counts


def test_registry_names_stay_text_in_xlsx_and_csv_and_escaped_in_html(
    store: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.xlsx"
    run(store, "--by", "site", "--format", "xlsx", "--out", str(out), "--target", "0.5")
    wb = openpyxl.load_workbook(out)
    seen = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value in EVIL:
                    assert c.data_type == "s", (ws.title, c.coordinate, c.data_type)
                    seen += 1
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
    assert seen >= 2
    wb.close()
    text = run(store, "--by", "site", "--format", "csv")
    names = {r["name"] for r in csv.DictReader(io.StringIO(text))}
    assert {"'" + e for e in EVIL} <= names  # a leading apostrophe: the cell stays text
    html = tmp_path / "r.html"
    run(store, "--by", "site", "--format", "html", "--out", str(html))
    page = html.read_text(encoding="utf-8")
    assert EVIL[0] not in page and "=HYPERLINK(&quot;http" in page
