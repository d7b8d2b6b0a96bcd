"""HTML report in headless Chromium (no console errors, screenshot taken) and XLSX via openpyxl."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from aggregator.cli.report import report
from aggregator.report.xlsx import sheet_names
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
SITES = ROOT / "config" / "sites.yaml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT_DIR = ROOT / "tests" / "report" / ".artifacts"


def make(db: Path, out: Path, *args: str) -> None:
    res = CliRunner().invoke(
        report, ["--db", str(db), "--sites-file", str(SITES), "--out", str(out), *args]
    )
    assert res.exit_code == 0, res.output


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("chromium is required in CI")
        pytest.skip("chromium not installed")
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_html_is_self_contained_vietnamese_and_renders(seeded_db: Path, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    make(seeded_db, html, "--format", "html", "--by", "district", "--target", "0.5",
         "--deadline", "2020-08-20")  # fmt: skip
    text = html.read_text(encoding="utf-8")
    assert '<html lang="vi">' in text
    assert "Tỷ lệ cài đặt Bluezone" in text and "Phan Rang–Tháp Chàm" in text
    assert "Ghi chú phương pháp" in text and "smartphone_share" in text
    assert text.count("data:image/png;base64,") == 3
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", text)

    dom = chromium(["--dump-dom", html.as_uri()], tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Tỷ lệ cài đặt Bluezone" in dom.stdout
    assert dom.stdout.count("<img") == 3

    SCREENSHOT_DIR.mkdir(exist_ok=True)
    png = SCREENSHOT_DIR / "report-vi.png"
    png.unlink(missing_ok=True)
    shot = chromium([f"--screenshot={png}", "--window-size=1280,2000", html.as_uri()],
                    tmp_path / "p2")  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    errors = [ln for ln in shot.stderr.splitlines() + dom.stderr.splitlines()
              if "CONSOLE" in ln or "Uncaught" in ln or "Failed to load" in ln]  # fmt: skip
    assert errors == []
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1280, 2000)


def test_html_in_english_and_without_target(seeded_db: Path, tmp_path: Path) -> None:
    html = tmp_path / "en.html"
    make(seeded_db, html, "--format", "html", "--lang", "en", "--by", "site")
    text = html.read_text(encoding="utf-8")
    assert "Bluezone adoption by site" in text and "Method notes" in text


def test_xlsx_has_expected_sheets(seeded_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    make(seeded_db, out, "--format", "xlsx", "--by", "district,day")
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == sheet_names("vi")
    assert wb.sheetnames[0] == "Tổng hợp"
    rows = list(wb["Tổng hợp"].iter_rows(values_only=True))
    assert rows[0][:2] == ("Huyện/Thành phố", "Ngày")
    assert any(r[0] == "Ninh Hải" for r in rows[1:])
    assert rows[-1][0] == "TỔNG"
    params = list(wb[sheet_names("vi")[5]].iter_rows(values_only=True))
    assert any(p[:2] == ("smartphone_share", 0.7) for p in params)
    wb.close()


def test_xlsx_is_vietnamese_with_percent_formats_and_a_district_chart(
    seeded_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.xlsx"
    make(seeded_db, out, "--format", "xlsx", "--by", "site", "--target", "0.5")
    wb = openpyxl.load_workbook(out)
    summary = wb[sheet_names("vi")[0]]
    head = [c.value for c in summary[1]]
    assert head[:2] == ["Địa điểm", "Tên"]  # site names beside ids
    assert all(not re.search(r"_(clusters|note|low|high)$|^[a-z_]+$", str(h)) for h in head), head
    col = head.index("Tỷ lệ cài đặt (%)") + 1
    cells = [summary.cell(i, col) for i in range(2, summary.max_row + 1)]
    assert all(c.number_format == "0.0%" for c in cells)
    assert all(c.value is None or 0 <= c.value <= 1 for c in cells)
    texts = " ".join(str(c.value) for row in summary.iter_rows() for c in row if c.value)
    assert "not enough data" not in texts and "Head-count" not in texts
    assert "Theo số người" in texts and "không đủ dữ liệu" in texts
    district = wb[sheet_names("vi")[1]]
    assert len(district._charts) == 1  # native chart: adoption by district with the target line
    chart = district._charts[0]
    assert len(chart.series) + sum(len(c.series) for c in chart._charts[1:]) >= 2
    assert wb[sheet_names("vi")[3]].max_row >= 2  # the visit plan
    wb.close()
