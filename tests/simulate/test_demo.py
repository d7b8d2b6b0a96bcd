"""`bzagg demo --quick` end to end, as a user runs it: simulated captures, the real scanner
pipeline (replay -> classify -> window -> outbox -> MQTT), the embedded broker (or Mosquitto), the
`serve` subscriber and store, then the report. The numbers it prints must be the store's."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

BZAGG = str(Path(sys.executable).with_name("bzagg"))


def _run_demo(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    work = tmp_path / "demo"
    res = subprocess.run(
        [
            BZAGG,
            "demo",
            "--quick",
            "--workdir",
            str(work),
            "--out",
            str(tmp_path / "demo-report.html"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout, work


def _printed_site_rows(stdout: str) -> dict[str, list[str]]:
    """site -> [windows, used, excluded, headline, method, verdict] from the site table."""
    section = stdout.split("Bluezone adoption by site")[1].split("TOTAL")[0]
    rows = {}
    for line in section.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if re.match(r"^[a-z0-9][\w.-]+$", cells[0]) and len(cells) >= 7:
            rows[cells[0]] = cells[2:]
    return rows


def _same(cell: str, est: dict[str, object]) -> bool:
    """A printed cell ("68.1 [54.6-81.7]") shows the JSON estimate (rounded to 4 places there)."""
    if est["value"] is None:
        return not re.match(r"\d", cell)
    printed = [float(x) for x in re.findall(r"\d+\.\d", cell)]
    want = [100 * float(est[k]) for k in ("value", "low", "high")]  # type: ignore[arg-type]
    return len(printed) == 3 and all(
        abs(a - b) <= 0.051 for a, b in zip(printed, want, strict=True)
    )


def _check_pooled_against_truth(db: Path, work: Path) -> None:
    """District and province headline figures cover the simulated truth (same population), and
    no district is "at target" whose truth is below it (before the pooling, the quick demo's
    district showed 71.5 [51.7-91.2] "confirmed at target" from its office alone)."""
    res = subprocess.run(
        [BZAGG, "report", "--db", str(db), "--sites-file", str(work / "sites.yaml"),
         "--by", "district", "--format", "json", "--target", "0.5"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    out = json.loads(res.stdout)
    truth = json.loads((work / "demo-truth.json").read_text())["districts"]
    for r in [*out["rows"], out["total"]]:
        key = r["keys"].get("district", "TOTAL")
        h = r["headline"]
        assert h["low"] <= truth[key] <= h["high"], (key, h, truth[key])
        assert not (h["status"] == "at_target" and truth[key] < 0.5), (key, h, truth[key])


def _check(stdout: str, work: Path, tmp_path: Path) -> None:
    db = work / "demo.sqlite3"
    with sqlite3.connect(db) as con:
        per_site = dict(con.execute("SELECT site, COUNT(*) FROM windows GROUP BY site").fetchall())
        rejected = con.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
        headcounts = con.execute("SELECT COUNT(*) FROM windows WHERE headcount > 0").fetchone()[0]
    assert set(per_site) == {"ptc-market-01", "ptc-counter-vnpt", "ptc-so-tttt"}
    assert rejected == 0 and headcounts > 0  # the inspector's head count travelled with windows
    m = re.search(r"([\d,]+) adverts -> (\d+) windows published, (\d+) stored", stdout)
    assert m and int(m.group(1).replace(",", "")) > 1000
    assert int(m.group(2)) == int(m.group(3)) == sum(per_site.values())
    printed = _printed_site_rows(stdout)
    assert {s: int(r[0]) for s, r in printed.items()} == per_site
    # The same store through `bzagg report --format json` gives the printed estimates.
    res = subprocess.run(
        [
            BZAGG,
            "report",
            "--db",
            str(db),
            "--sites-file",
            str(work / "sites.yaml"),
            "--by",
            "site",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = {r["keys"]["site"]: r for r in json.loads(res.stdout)["rows"]}
    for site, cells in printed.items():
        assert rows[site]["windows"] == per_site[site]
        assert _same(cells[3], rows[site]["headline"]), site
        assert cells[4] == rows[site]["headline"]["method_label"]
    _check_pooled_against_truth(db, work)
    html = (tmp_path / "demo-report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "ptc-so-tttt" in html
    truth = json.loads((work / "demo-truth.json").read_text())
    assert set(truth["sites"]) == set(per_site)
    visits = [s for s in truth["segments"] if s["kind"] == "visit"]
    assert visits and all(s["headcount"] > 0 for s in visits)
    assert "Ground truth" in stdout
    _same_report_from_any_directory(db, work / "sites.yaml", tmp_path)


def _same_report_from_any_directory(db: Path, sites: Path, tmp_path: Path) -> None:
    # The repository root holds config/*.yaml; an empty directory and the demo's own hold others.
    # Packaged defaults must not care which one the analyst happens to be in.
    other = tmp_path / "elsewhere"
    other.mkdir()
    outs = set()
    for cwd in (Path(__file__).resolve().parents[2], other, db.parent):
        res = subprocess.run(
            [BZAGG, "report", "--db", str(db), "--sites-file", str(sites), "--by", "district"],
            capture_output=True, text=True, check=True, timeout=120, cwd=cwd,
        )  # fmt: skip
        outs.add(res.stdout)
        assert "estimation parameters packaged defaults" in res.stderr
    assert len(outs) == 1


@pytest.mark.slow
def test_demo_quick_embedded_broker(tmp_path: Path) -> None:
    stdout, work = _run_demo(tmp_path)
    _check(stdout, work, tmp_path)
    # Nothing identifying reaches the store: counts only (DESIGN §5).
    with sqlite3.connect(work / "demo.sqlite3") as con:
        dump = "\n".join(con.iterdump())
    assert "B5 22" not in dump and not re.search(r"[0-9A-F]{2}(:[0-9A-F]{2}){5}", dump)


@pytest.mark.mqtt
@pytest.mark.slow
def test_demo_quick_through_mosquitto(tmp_path: Path, mosquitto: object) -> None:
    stdout, work = _run_demo(tmp_path, "--broker", mosquitto.url)  # type: ignore[attr-defined]
    _check(stdout, work, tmp_path)


def test_late_pubacks_are_counted_not_printed_as_tracebacks() -> None:
    """On a busy machine amqtt logs a traceback per PUBACK it waited over 5 s for; nodes re-send
    until the aggregator acknowledges the commit, so the demo counts them in one note instead."""
    import logging

    from aggregator.cli.demo import _late_note
    from aggregator.ingest.embedded import _LatePubacks

    late = _LatePubacks()

    def record(exc: BaseException | None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("amqtt.broker", logging.ERROR, __file__, 1, "failed", (), info)

    assert not late.filter(record(TimeoutError("Timeout waiting for PUBACK for packet ID 3")))
    assert late.filter(record(TimeoutError("connect timed out")))  # other errors still show
    assert late.filter(record(ValueError("bad")))
    assert late.filter(record(None))
    assert late.count == 1
    assert "PUBACK 1 time(s)" in _late_note(1, "en")
    assert "PUBACK" in _late_note(2, "vi") and "bộ tổng hợp" in _late_note(2, "vi")
