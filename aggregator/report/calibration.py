"""Calibration visits in the registry turned into a measured gate loss for a report."""

from __future__ import annotations

from collections.abc import Iterable

from aggregator.sites import Registry
from aggregator.store.interface import WindowStore
from scanner.estimation.calibration import (
    CalibrationVisit,
    calibrate_gate,
    node_count,
    with_calibration,
)
from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.params import EstimationParams


def calibration_visits(
    clusters: Iterable[ClusterTotals], registry: Registry, params: EstimationParams
) -> list[CalibrationVisit]:
    """One visit per registered site with `bluezone_shown` and used windows."""
    pf = registry.params_for(params)
    shown: dict[str, int] = {}
    per_site: dict[str, list[ClusterTotals]] = {}
    for c in clusters:
        s = registry.get(c.site)
        if s is not None and s.bluezone_shown is not None:
            shown[c.site] = s.bluezone_shown
            per_site.setdefault(c.site, []).append(c)
    out = []
    for site, cs in sorted(per_site.items()):
        count = node_count(cs, pf(site))
        if count is not None:
            out.append(CalibrationVisit(site, count, float(shown[site])))
    return out


# Calibration visits count whenever they were made, not only within the report's period.
_ALL_TIME: tuple[int, int] = (0, 2**40)


def calibrated(
    store: WindowStore, registry: Registry, params: EstimationParams
) -> EstimationParams:
    """`params` with gate_loss measured on the registry's calibration visits, when there are
    enough of them; the same for every report from this store and registry, whatever its
    period, sites or districts."""
    ids = sorted(k for k, s in registry.sites.items() if s.bluezone_shown is not None)
    if not ids:
        return params
    found = store.clusters(params, since=_ALL_TIME[0], until=_ALL_TIME[1], sites=ids)
    visits = calibration_visits((c.totals for c in found), registry, params)
    return with_calibration(params, calibrate_gate(visits))
