"""The node's end-of-visit summary: the aggregator's estimator on the visit's windows (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from scanner.estimation.clusters import ClusterTotals, clusters_from_reports
from scanner.estimation.devices import devices
from scanner.estimation.methods import METHODS, Estimate, estimate
from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams, for_site_type
from scanner.wire.schema import WindowReport


@dataclass(frozen=True, slots=True)
class VisitSummary:
    """What `bzscan` prints at the end of a visit: devices seen and the three estimates."""

    windows: int
    used: int
    excluded: Mapping[str, int]
    bluezone: float
    iphones: float
    headcount: float | None
    estimates: tuple[Estimate, ...]
    site_type: str = "office"
    smartphones: float | None = None
    near_gate: int = 0

    def lines(self) -> list[str]:
        """Plain-text lines (English; numbers only, nothing that identifies a device)."""
        sp = "" if self.smartphones is None else f"; smartphone owners: {self.smartphones:g}"
        out = [
            f"windows: {self.windows} ({self.used} used, {self.excluded.get('clock', 0)} clock not "
            f"synced, {self.excluded.get('coverage', 0)} poor scan coverage)",
            f"Bluezone phones present (corrected): {self.bluezone:.1f}; "
            f"iPhones: {self.iphones:.1f}; "
            f"head count: {'-' if self.headcount is None else f'{self.headcount:g}'}{sp}",
            f"site type: {self.site_type}; devices just below the RSSI gate: "
            f"{self.near_gate / max(1, self.used):.1f} per window",
        ]
        for e in self.estimates:
            det = f" [detection: {e.detection.value}]" if e.detection is not None else ""
            out.append(f"{e.method:16s} {format_estimate(e)}{det}")
        return out


def format_estimate(e: Estimate) -> str:
    """'34.1 % (95 % CI 22.0-46.2 %)', the misfit, or the reason it is not estimable."""
    if e.value is None or e.low is None or e.high is None:
        return e.reason or "not enough data"
    if e.misfit is not None:
        return e.misfit
    return f"{100 * e.value:.1f} % (95 % CI {100 * e.low:.1f}-{100 * e.high:.1f} %)"


def visit_summary(
    reports: Iterable[WindowReport],
    headcount: int | None = None,
    params: EstimationParams = DEFAULT_PARAMS,
    site_type: str | None = None,
    smartphones: int | None = None,
) -> VisitSummary:
    """End-of-visit summary over a node's WindowReports; `headcount` (the inspector's count at
    the end) overrides any head counts carried by the windows; `smartphones` (owners counted or
    asked) replaces head count x share; `site_type` (office, market, counter) selects the
    prior turnover, as the aggregator's registry does."""
    params = for_site_type(params, site_type)
    clusters = clusters_from_reports(reports, params)
    clusters = [_with_counts(c, headcount, smartphones) for c in clusters]
    bz = iph = 0.0
    for c in clusters:
        if c.used:
            d = devices(c, params)
            bz, iph = bz + d.bluezone, iph + d.iphone
    n = max(1, sum(1 for c in clusters if c.used))
    heads = [c.headcount for c in clusters if c.headcount is not None]
    return VisitSummary(
        windows=sum(c.windows for c in clusters),
        used=sum(c.used for c in clusters),
        excluded={
            "clock": sum(c.excl_clock for c in clusters),
            "coverage": sum(c.excl_coverage for c in clusters),
        },
        bluezone=bz / n,
        iphones=iph / n,
        headcount=float(headcount)
        if headcount is not None
        else (sum(heads) / len(heads) if heads else None),
        estimates=tuple(estimate(m, clusters, params) for m in METHODS),
        site_type=site_type or "office",
        smartphones=None if smartphones is None else float(smartphones),
        near_gate=sum(c.near_gate for c in clusters),
    )


def _with_counts(c: ClusterTotals, head: int | None, phones: int | None) -> ClusterTotals:
    if head is not None:
        c = replace(c, headcount=float(head))
    if phones is not None:
        c = replace(c, smartphones=float(phones))
    return c
