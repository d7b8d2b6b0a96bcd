"""Rows the report suppresses (fewer than k_min smartphone owners) carry no figure on the
dashboard either: not in the headline, not in the per-method detail, not in the page."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from aggregator.report.tables import build_report
from aggregator.report.text import to_json
from aggregator.sites import load_registry
from aggregator.store import open_store
from aggregator.web.data import Figures, Scope, build_scope, scope_options
from scanner.estimation.params import load_params
from tests.report.conftest import seed_store
from tests.web.conftest import SITES


def test_suppressed_rows_stay_suppressed(tmp_path: Path) -> None:
    store = open_store(seed_store(tmp_path / "s.sqlite3"), read_only=True)
    try:
        fig = Figures(registry=load_registry(SITES), params=load_params(None), target=0.5,
                      deadline=date(2020, 8, 20), k_min=10**6)  # fmt: skip
        for scope in (Scope("province"), Scope("district", "Ninh Hải"),
                      Scope("site", "ptc-market-01")):  # fmt: skip
            view = build_scope(store, fig, scope, version=1, now=0.0)
            report = json.loads(to_json(build_report(store, fig.registry, fig.params,
                                                     scope_options(scope, fig))))  # fmt: skip
            assert report["total"]["headline"]["suppressed"]
            for r in [view.total, *view.rows, *view.visits, *view.daily]:
                assert r.headline.suppressed and r.headline.value is None
                assert r.headline.low is None and r.headline.high is None
                assert r.headline.status is None
                assert all(e.suppressed and e.value is None for e in r.estimates.values())
            rows = [view.total, *view.rows, *view.visits, *view.daily]
            dumped = "".join(r.model_dump_json() for r in rows)
            assert '"value":0' not in dumped and '"low":0' not in dumped
    finally:
        store.close()
