"""Site registry: the example file, CSV/YAML import, validation, overrides, unknown sites."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli.sites import sites
from aggregator.sites import SiteError, load_registry, parse_sites
from scanner.estimation.params import DEFAULT_PARAMS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "sites.yaml"


def test_example_registry_covers_ninh_thuan_districts_with_diacritics() -> None:
    reg = load_registry(EXAMPLE)
    districts = {s.district for s in reg.sites.values()}
    assert {"Phan Rang–Tháp Chàm", "Ninh Hải", "Ninh Phước", "Thuận Bắc", "Bác Ái", "Ninh Sơn",
            "Thuận Nam"} <= districts  # fmt: skip
    assert {s.type for s in reg.sites.values()} == {"office", "market", "counter"}
    assert reg.attrs("np-ubnd") == ("UBND huyện Ninh Phước", "office", "Ninh Phước",
                                    "Thị trấn Phước Dân", True)  # fmt: skip


def test_unknown_site_is_flagged_not_dropped() -> None:
    reg = load_registry(EXAMPLE)
    assert reg.attrs("not-in-registry") == ("not-in-registry", "?", "?", "?", False)


def test_site_overrides_become_params_with_site_as_source() -> None:
    reg = load_registry(EXAMPLE)
    p = reg.params_for(DEFAULT_PARAMS)("ptc-ubnd-tinh")
    assert p.smartphone_share.value == 0.9
    assert p.smartphone_share.source == "sites.yaml: ptc-ubnd-tinh"
    assert reg.params_for(DEFAULT_PARAMS)("nh-ubnd") is DEFAULT_PARAMS
    market = reg.params_for(DEFAULT_PARAMS)("nh-market-khanh-hai")
    assert market.dwell_s.value == DEFAULT_PARAMS.dwell_market_s.value
    assert reg.params_for(DEFAULT_PARAMS)("unknown-site") is DEFAULT_PARAMS
    assert reg.staff()["ptc-ubnd-tinh"] == 120


CSV = """id,name,type,district,commune,staff,smartphone_share,ios_share
nh-ubnd,UBND huyện Ninh Hải (mới),office,Ninh Hải,Thị trấn Khánh Hải,65,,
tn-counter-1,Bưu điện Cà Ná,counter,Thuận Nam,Xã Cà Ná,,0.8,0.25
"""


def test_import_csv_merges_and_list_prints(tmp_path: Path) -> None:
    reg_file = tmp_path / "sites.yaml"
    reg_file.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    src = tmp_path / "new.csv"
    src.write_text(CSV, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(sites, ["import", str(src), "--sites-file", str(reg_file)])
    assert res.exit_code == 0, res.output
    assert "1 added, 1 updated, 20 sites" in res.output
    reg = load_registry(reg_file)
    assert reg.sites["nh-ubnd"].staff == 65 and reg.sites["nh-ubnd"].name.endswith("(mới)")
    assert reg.sites["tn-counter-1"].ios_share == 0.25
    assert "Thị trấn" in reg_file.read_text(encoding="utf-8")  # diacritics kept, not escaped
    res = runner.invoke(sites, ["list", "--sites-file", str(reg_file)])
    assert res.exit_code == 0
    assert "tn-counter-1" in res.output and "ios_share=0.25" in res.output
    assert len(res.output.splitlines()) == 21


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("x/y,A,office,D,C,,,", "bad_site"),
        ("a1,A,shop,D,C,,,", "type must be one of"),
        ("a1,A,office,D,C,-3,,", "staff must be >= 0"),
        ("a1,A,office,D,C,2.5,,", "whole number"),
        ("a1,A,office,D,C,,1.5,", "smartphone_share must be in"),
        ("a1,A,office,D,C,,abc,", "must be a number"),
        ("a1,,office,D,C,,,", "missing 'name'"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row: str, needle: str) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(CSV.splitlines()[0] + "\n" + row + "\n", encoding="utf-8")
    with pytest.raises(SiteError, match=needle) as info:
        parse_sites(src)
    assert "bad.csv:2" in str(info.value)


def test_duplicate_ids_and_bad_yaml(tmp_path: Path) -> None:
    dup = tmp_path / "d.csv"
    dup.write_text(CSV + CSV.splitlines()[1] + "\n", encoding="utf-8")
    with pytest.raises(SiteError, match="appears twice"):
        parse_sites(dup)
    y = tmp_path / "s.yaml"
    y.write_text("sites: {a: 1}\n", encoding="utf-8")
    with pytest.raises(SiteError, match="'sites' list"):
        parse_sites(y)


def test_import_failure_exits_1_and_leaves_registry(tmp_path: Path) -> None:
    reg_file = tmp_path / "sites.yaml"
    src = tmp_path / "bad.csv"
    src.write_text("id,name\nx,y\n", encoding="utf-8")
    res = CliRunner().invoke(sites, ["import", str(src), "--sites-file", str(reg_file)])
    assert res.exit_code == 1 and "missing 'type'" in res.output
    assert not reg_file.exists()
