"""The estimation API in one import (re-exports; the code lives in the modules named below).

clusters (sums per cluster, exclusion rules, detection priors), histories (capture-history
fits), devices (devices present per cluster), methods (the three estimators, `Method`),
site_estimate (typed per-site results for pooling), visit (the node's end-of-visit summary).
"""

from __future__ import annotations

from scanner.estimation.clusters import (
    CaptureSums,
    ClusterTotals,
    Exclusion,
    clusters_from_reports,
    exclusion,
    slot_detection,
)
from scanner.estimation.devices import Detection, DevicesHat, devices
from scanner.estimation.methods import METHODS, Estimate, Method, ParamsFor, estimate
from scanner.estimation.site_estimate import SiteEstimate, site_estimates
from scanner.estimation.visit import VisitSummary, format_estimate, visit_summary

__all__ = [
    "METHODS", "CaptureSums", "ClusterTotals", "Detection", "DevicesHat", "Estimate",
    "Exclusion", "Method", "ParamsFor", "SiteEstimate", "VisitSummary", "clusters_from_reports",
    "devices", "estimate", "exclusion", "format_estimate", "site_estimates", "slot_detection",
    "visit_summary",
]  # fmt: skip
