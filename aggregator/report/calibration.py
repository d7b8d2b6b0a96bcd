"""Calibration visits in the registry turned into a measured gate loss for a report."""

from __future__ import annotations

from collections.abc import Iterable

from aggregator.sites import Registry
from aggregator.store.interface import WindowStore
from scanner.estimation.calibration import (
    CalibrationVisit,
    calibrate_gate,
    uncorrected,
    with_calibration,
)
from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.devices import devices
from scanner.estimation.params import EstimationParams


def calibration_visits(
    clusters: Iterable[ClusterTotals], registry: Registry, params: EstimationParams
) -> list[CalibrationVisit]:
    """One visit per registered site with `bluezone_shown` and used windows: the node's
    Bluezone count at an instant before the gate correction, averaged over its clusters."""
    pf = registry.params_for(params)
    per_site: dict[str, list[float]] = {}
    for c in clusters:
        s = registry.get(c.site)
        if s is None or s.bluezone_shown is None or c.used <= 0:
            continue
        per_site.setdefault(c.site, []).append(devices(c, uncorrected(pf(c.site))).bluezone)
    return [
        CalibrationVisit(site, sum(v) / len(v), float(registry.sites[site].bluezone_shown or 0))
        for site, v in sorted(per_site.items())
    ]


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
