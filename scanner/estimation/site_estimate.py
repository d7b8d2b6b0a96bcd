"""Typed per-site results for district and province pooling (pure).

A pooled survey estimate needs, per site (the unit), the estimated Bluezone users and smartphone
owners with their variances, not only the ratio: `SiteEstimate` carries both, with the method
and whether detection was measured or assumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.devices import Detection, DevicesHat
from scanner.estimation.methods import Estimate, Method, ParamsFor, estimate
from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams


@dataclass(frozen=True, slots=True)
class SiteEstimate:
    """One site's adoption estimate (bounded to [0, 1]) and its numerator and denominator.

    `bluezone` (Bluezone users present) and `owners` (smartphone owners present, or iPhones for
    the iOS-internal method) are per-cluster averages over the site's clusters; `var_*` are the
    variances of those averages (model variance within clusters)."""

    site: str
    method: Method
    value: float | None
    low: float | None
    high: float | None
    detection: Detection | None
    bluezone: float
    var_bluezone: float
    owners: float
    var_owners: float
    clusters: int
    misfit: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, site: str, e: Estimate) -> SiteEstimate:
        n = max(1, e.clusters)
        return cls(
            site, e.method, e.value, e.low, e.high, e.detection,
            e.bluezone / n, e.var_bluezone / n**2, e.denominator / n, e.var_denominator / n**2,
            e.clusters, e.misfit, e.reason,
        )  # fmt: skip


def site_estimates(
    method: Method,
    clusters: Sequence[ClusterTotals],
    params: EstimationParams | ParamsFor = DEFAULT_PARAMS,
    *,
    staff: Mapping[str, int] | None = None,
    cache: dict[int, DevicesHat] | None = None,
) -> dict[str, SiteEstimate]:
    """One SiteEstimate per site among `clusters`."""
    by_site: dict[str, list[ClusterTotals]] = {}
    for c in clusters:
        by_site.setdefault(c.site, []).append(c)
    return {
        s: SiteEstimate.of(s, estimate(method, cs, params, staff=staff, cache=cache))
        for s, cs in sorted(by_site.items())
    }
