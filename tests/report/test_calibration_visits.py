"""Calibration visits in the registry measure the gate loss of every report from the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aggregator.report.tables import ReportData, ReportOptions, build_report
from aggregator.sites import SiteError, load_registry
from aggregator.store.sqlite import Store
from scanner.estimation.calibration import uncorrected
from scanner.estimation.clusters import clusters_from_reports
from scanner.estimation.devices import devices
from scanner.estimation.methods import Method
from scanner.estimation.params import DEFAULT_PARAMS
from tests.estimate.factory import window


def _site(i: int, shown: int | None) -> dict[str, object]:
    s: dict[str, object] = {"id": f"cal-{i:02d}", "name": f"Office {i}", "type": "office",
                            "district": f"D{1 + i % 2}", "commune": "C", "staff": 30}  # fmt: skip
    if shown is not None:
        s["bluezone_shown"] = shown
    return s


def _report(
    tmp: Path, shown: list[int | None], districts: tuple[str, ...] = ()
) -> tuple[ReportData, float]:
    reg = tmp / "sites.yaml"
    reg.write_text(yaml.safe_dump({"sites": [_site(i, s) for i, s in enumerate(shown)]}), "utf-8")
    reports = [
        window(k, android=8, iphone=4, headcount=30, site=f"cal-{i:02d}", node=f"n{i}")
        for i in range(len(shown)) for k in range(20)
    ]  # fmt: skip
    store = Store(tmp / "store.sqlite3")
    try:
        for r in reports:
            store.insert(r)
        data = build_report(store, load_registry(reg), DEFAULT_PARAMS,
                            ReportOptions(by=("site",), districts=districts))  # fmt: skip
    finally:
        store.close()
    (c,) = clusters_from_reports(reports[:20])
    raw = devices(c, uncorrected(DEFAULT_PARAMS)).bluezone  # each site's node count, uncorrected
    return data, raw


def test_ten_calibration_visits_replace_the_prior(tmp_path: Path) -> None:
    data, raw = _report(tmp_path, [9, 11] * 6)  # 120 shown where the nodes saw 12 raw
    assert data.params.gate_loss.value == pytest.approx(1 - raw / 10)
    assert "12 calibration visits" in data.params.gate_loss.source
    assert data.params.gate_loss_sd.value > DEFAULT_PARAMS.gate_loss_sd.value
    # The same windows with no calibration visit: the head-count figure moves with 1 / (1 - g).
    (tmp_path / "p").mkdir()
    prior, _ = _report(tmp_path / "p", [None] * 12)
    assert prior.params.gate_loss is DEFAULT_PARAMS.gate_loss
    ratio = (1 - DEFAULT_PARAMS.gate_loss.value) / (1 - data.params.gate_loss.value)
    assert _headcount(data) == pytest.approx(_headcount(prior) * ratio, rel=1e-6)


def _headcount(data: ReportData) -> float:
    e = next(e for e in data.rows[0].estimates if e.method is Method.HEADCOUNT)
    assert e.value is not None
    return e.value


def test_a_district_report_uses_the_same_calibration(tmp_path: Path) -> None:
    everywhere, _ = _report(tmp_path, [10] * 12)
    (tmp_path / "d").mkdir()
    one, _ = _report(tmp_path / "d", [10] * 12, districts=("D1",))
    assert one.params.gate_loss.value == everywhere.params.gate_loss.value


def test_nine_visits_keep_the_prior(tmp_path: Path) -> None:
    data, _ = _report(tmp_path, [10] * 9 + [None] * 3)
    assert data.params.gate_loss is DEFAULT_PARAMS.gate_loss


def test_a_negative_shown_count_is_refused_with_the_site_named(tmp_path: Path) -> None:
    reg = tmp_path / "sites.yaml"
    reg.write_text(yaml.safe_dump({"sites": [_site(1, -3)]}), "utf-8")
    with pytest.raises(SiteError, match=r"cal-01.*bluezone_shown must be >= 0"):
        load_registry(reg)
