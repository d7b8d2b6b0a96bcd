"""The gate's net loss measured on calibration visits (double sampling; pure).

No capture history can see a phone whose median RSSI stays below the gate all visit, nor one
that never advertises; `gate_loss` is a prior for them (docs/method.md, identifiability). A
calibration visit measures them: besides the head count, the inspector asks the people present
to open Bluezone and counts those who have it (`bluezone_shown` in the site registry). Over such
visits, the ratio estimator R = sum(estimated) / sum(shown) (Cochran 1977, §6.3), where
`estimated` is the node's Bluezone count at an instant with no gate correction, says what share
of the Bluezone users present the gate and the priors let through; 1 - R replaces the prior
`gate_loss`. It also absorbs the mean error of the other unseeable priors (installs that never
advertise, silent background iPhones), which is what a province wants corrected. R > 1 (phones
outside the site passing the gate) is allowed: it gives a negative loss, which scales down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.devices import devices
from scanner.estimation.params import EstimationParams

# Fewer visits give a ratio whose standard error alone spans the prior's range.
MIN_VISITS: Final = 10
# A ratio outside these bounds is a misfit, not a gate: 1 - R is kept in [-0.5, 0.9].
_LOSS_BOUNDS: Final = (-0.5, 0.9)


@dataclass(frozen=True, slots=True)
class CalibrationVisit:
    site: str
    estimated: float  # Bluezone phones at an instant from the node, before the gate correction
    shown: float  # Bluezone users the inspector counted by asking to see the app


@dataclass(frozen=True, slots=True)
class GateCalibration:
    ratio: float  # R: estimated / shown over the visits
    se: float  # standard error of R (linearised ratio-estimator variance)
    visits: int

    @property
    def gate_loss(self) -> float:
        return min(_LOSS_BOUNDS[1], max(_LOSS_BOUNDS[0], 1.0 - self.ratio))

    def source(self) -> str:
        return (
            f"measured on {self.visits} calibration visits (bluezone_shown in the site "
            f"registry): node count / Bluezone users shown = {self.ratio:.3f} "
            f"(standard error {self.se:.3f})"
        )


def calibrate_gate(
    visits: Iterable[CalibrationVisit], *, min_visits: int = MIN_VISITS
) -> GateCalibration | None:
    """The ratio over visits with someone shown, or None when fewer than `min_visits`."""
    vs = [v for v in visits if v.shown > 0 and v.estimated >= 0]
    n = len(vs)
    if n < max(2, min_visits):
        return None
    shown = sum(v.shown for v in vs)
    r = sum(v.estimated for v in vs) / shown
    resid = sum((v.estimated - r * v.shown) ** 2 for v in vs)
    se = math.sqrt(n / (n - 1) * resid) / shown
    return GateCalibration(ratio=r, se=se, visits=n)


def with_calibration(p: EstimationParams, cal: GateCalibration | None) -> EstimationParams:
    """`p` with gate_loss measured; its spread keeps the prior's site-to-site part and adds the
    ratio's standard error (a visit's own gate differs from the calibration sites' mean)."""
    if cal is None:
        return p
    sd = math.hypot(p.gate_loss_sd.value, cal.se)
    return p.override(cal.source(), gate_loss=cal.gate_loss, gate_loss_sd=sd)


def uncorrected(p: EstimationParams) -> EstimationParams:
    """`p` without the gate correction: what a calibration visit's node count is taken with."""
    return p.override("calibration: no gate correction", gate_loss=0.0, gate_loss_sd=0.0)


def node_count(clusters: Iterable[ClusterTotals], p: EstimationParams) -> float | None:
    """A calibration visit's Bluezone phones at an instant, before the gate correction: the
    mean over its clusters with used windows (None when there is none)."""
    q = uncorrected(p)
    counts = [devices(c, q).bluezone for c in clusters if c.used > 0]
    return sum(counts) / len(counts) if counts else None
