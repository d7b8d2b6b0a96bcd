"""The dashboard's figures equal `bzagg report --format json` on the same store, page and API."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from aggregator.cli.report import report
from tests.web.conftest import DEADLINE, SITES, TARGET, WebServer


def bzagg_report(web: WebServer, *args: str) -> dict[str, Any]:
    res = CliRunner().invoke(report, ["--db", str(web.db), "--sites-file", str(SITES),
                                      "--target", TARGET, "--deadline", DEADLINE,
                                      "--format", "json", *args])  # fmt: skip
    assert res.exit_code == 0, res.output
    out: dict[str, Any] = json.loads(res.stdout)
    return out


HEADLINE = ("value", "low", "high", "method", "status", "more_visits", "visits", "suppressed")


def headline(row: dict[str, Any]) -> tuple[Any, ...]:
    """The report's pooled headline of a row: figure, interval, method, verdict, visits."""
    h = row["headline"]
    return tuple(h.get(k, False if k == "suppressed" else None) for k in HEADLINE)


class Tables(HTMLParser):
    """Rows of every `table.rows` with a data-key: keys -> (value, low, high, method, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, tuple[str, ...]]] = {}
        self._table = ""
        self._key: str | None = None
        self._fig: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables.setdefault(self._table, {})
        elif tag == "tr" and "data-key" in a:
            self._key = a["data-key"]
        elif (
            tag == "span"
            and "fig" in (a.get("class") or "")
            and self._key is not None
            and self._key not in self.tables[self._table]
        ):
            self._fig = [a.get("data-value") or "", a.get("data-low") or "",
                             a.get("data-high") or "", a.get("data-method") or ""]  # fmt: skip

    def handle_data(self, data: str) -> None:
        if self._fig is not None and self._key is not None:
            self.tables[self._table][self._key] = (*self._fig, data.strip())
            self._fig = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._key = None


def page_tables(web: WebServer, path: str) -> dict[str, dict[str, tuple[str, ...]]]:
    with web.login() as c:
        r = c.get(path)
    assert r.status_code == 200
    p = Tables()
    p.feed(r.text)
    return p.tables


def check_table(shown: dict[str, tuple[str, ...]], rows: list[dict[str, Any]]) -> None:
    shown = {json.dumps(json.loads(k), sort_keys=True): v for k, v in shown.items()}
    assert len(shown) == len(rows)
    for row in rows:
        got = shown[json.dumps(row["keys"], sort_keys=True)]
        h = row["headline"]
        if h.get("suppressed") or h.get("value") is None:
            assert got[0] == ""  # a suppressed row shows no figure on the page either
            continue
        assert (float(got[0]), float(got[1]), float(got[2]), got[3]) == (
            h["value"], h["low"], h["high"], h["method"])  # fmt: skip
        assert got[4] == f"{100 * h['value']:.1f} %"


def check_api_rows(api_rows: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    by_key = {json.dumps(r["keys"], sort_keys=True): r for r in api_rows}
    assert len(by_key) == len(rows)
    for row in rows:
        got = by_key[json.dumps(row["keys"], sort_keys=True)]
        assert got["windows"] == row["windows"] and got["used"] == row["used"]
        assert got["nodes"] == row["nodes"] and got["registered"] == row["registered"]
        assert got["name"] == row["name"]
        for m, e in row["estimates"].items():
            mine = got["estimates"][m]
            if e.get("suppressed"):
                assert mine["suppressed"] and mine["value"] is None
                continue
            assert (mine["value"], mine["low"], mine["high"], mine["clusters"]) == (
                e["value"], e["low"], e["high"], e["clusters"])  # fmt: skip
        assert headline(got) == headline(row)
        assert got["headline"]["strata"] == row["headline"]["strata"]
        assert got["headline"]["df"] == row["headline"].get("df")


def test_province_equals_report_json(web: WebServer) -> None:
    by_district = bzagg_report(web, "--by", "district")
    by_day = bzagg_report(web, "--by", "day")
    with web.login() as c:
        api = c.get("/api/v1/province").json()
    check_api_rows(api["rows"], by_district["rows"])
    check_api_rows(api["daily"], by_day["rows"])
    check_api_rows([api["total"]], [by_district["total"]])
    assert api["target"] == by_district["target"]
    assert api["parameters"] == by_district["parameters"]
    assert api["unregistered_sites"] == by_district["unregistered_sites"]
    assert api["tz"] == by_district["tz"] and api["k_min"] == by_district["k_min"]
    plan = [{k: p[k] for k in ("district", "status", "more_visits", "visit_type", "visit_sites")}
            for p in api["planning"]]  # fmt: skip
    assert plan == [{k: p[k] for k in plan[0]} for p in by_district["plan"]] and plan
    tables = page_tables(web, "/")
    check_table(tables["rows"], by_district["rows"])
    check_table(tables["daily"], by_day["rows"])


@pytest.mark.parametrize("district", ["Ninh Hải", "Phan Rang–Tháp Chàm"])
def test_district_equals_report_json(web: WebServer, district: str) -> None:
    by_site = bzagg_report(web, "--district", district, "--by", "site")
    visits = bzagg_report(web, "--district", district, "--by", "site,day")
    with web.login() as c:
        api = c.get(f"/api/v1/districts/{quote(district)}").json()
    check_api_rows(api["rows"], by_site["rows"])
    check_api_rows(api["visits"], visits["rows"])
    own = bzagg_report(web, "--district", district, "--by", "district")
    check_api_rows([api["total"]], own["rows"])  # the district's headline, as --by district
    province = bzagg_report(web, "--by", "district")
    check_api_rows(
        [api["total"]], [r for r in province["rows"] if r["keys"]["district"] == district]
    )
    assert api["target"] == by_site["target"]
    tables = page_tables(web, f"/district/{quote(district)}")
    check_table(tables["rows"], by_site["rows"])
    check_table(tables["visits-table"], visits["rows"])


@pytest.mark.parametrize("site", ["ptc-market-01", "zz-unknown-site"])
def test_site_equals_report_json(web: WebServer, site: str) -> None:
    by_day = bzagg_report(web, "--site", site, "--by", "day")
    with web.login() as c:
        api = c.get(f"/api/v1/sites/{site}").json()
        assert c.get("/api/v1/sites/no-such-site").status_code == 404
    check_api_rows(api["visits"], by_day["rows"])
    check_api_rows([api["total"]], bzagg_report(web, "--site", site, "--by", "site")["rows"])
    check_table(page_tables(web, f"/site/{site}")["visits-table"], by_day["rows"])
    assert any(f"--site {site}" in cmd for cmd in api["commands"])


def test_headline_verdict_follows_the_interval(web: WebServer) -> None:
    with web.login() as c:
        api = c.get("/api/v1/province").json()
    target = float(TARGET)
    for r in [api["total"], *api["rows"]]:
        h = r["headline"]
        if h["suppressed"] or h["value"] is None:
            continue
        expected = ("at_target" if h["low"] >= target else "below_target" if h["high"] < target
                    else "cannot_tell")  # fmt: skip
        assert h["status"] == expected


@pytest.mark.parametrize(
    "path", ["/", "/district/Ninh%20H%E1%BA%A3i", "/site/ptc-market-01", "/nodes"]
)
def test_live_update_fetches_only_main(web: WebServer, path: str) -> None:
    with web.login() as c:
        full = c.get(path)
        part = c.get(path, headers={"x-bzagg-partial": "1"})
    assert full.status_code == part.status_code == 200
    assert full.text.startswith("<!doctype html>") and "<html" not in part.text
    assert part.headers["x-bzagg-version"] == full.headers["x-bzagg-version"]
    assert 'class="fig' in part.text or 'id="nodes"' in part.text
