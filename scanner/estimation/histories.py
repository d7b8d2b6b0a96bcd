"""Detection and turnover measured from anonymous capture histories (robust design; pure).

Each quarter-hour slot is a primary period; its windows are secondary samples (Pollock 1982;
Kendall, Nichols & Hines 1997). From the summed statistics of `CaptureSums` (docs/method.md):

* per-window detection of a present device, from devices seen in windows w and w+2 (so present
  throughout w+1, presence being one stay): p = run3 / lag2 — a conditional estimate in the
  spirit of Huggins (1989): it conditions on being seen, so arrivals and departures cancel;
* devices present at a window boundary: a1 / p^2, a1 = lag1 / pairs1 the mean number of devices
  seen on both sides of a boundary (present at the boundary instant and seen twice);
* turnover: a2 / a1 = phi, the share of those still present a whole window later; with
  memoryless stays the people present at some time in a window are T = 1 - ln(phi) times those
  present at one instant (Little's law: arrivals during W are N W / dwell);
* Doze phones (one burst every ~9 min, per-window detection q from the protocol) are almost
  never seen in adjacent windows; they show up as the excess of the per-window count over what
  the well-detected phones explain: N_doze = max(0, (xbar / T - p N_awake) / q).

Address-keyed strata (iPhones) lose a pair when the address rotates between its windows
(W / T_rot per boundary): a1 and a2 are divided by (1 - W/T_rot) and (1 - 2 W/T_rot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scanner.estimation.clusters import CaptureSums

_P_FLOOR = 0.05
_PHI_FLOOR = 0.02


@dataclass(frozen=True, slots=True)
class Measured:
    """What one stratum's capture histories say about one cluster."""

    present: float  # devices present at an instant (awake + Doze)
    awake: float  # well-detected devices present at an instant
    doze: float  # Doze-like devices (0 for address-keyed strata)
    p: float  # per-window detection of a present, well-detected device
    turnover: float  # T: devices present at some time in a window / at an instant
    variance: float  # detection variance of `present` (binomial thinning + error of p)


def measure(
    c: CaptureSums,
    *,
    window_s: float,
    min_pairs: float,
    rotation_s: float = 0.0,
    doze_q: float = 0.0,
) -> Measured | None:
    """Fit detection and turnover for one stratum, or None when the histories are too thin
    (fewer than `min_pairs` devices seen two windows apart, or no usable window pairs)."""
    if c.pairs1 <= 0 or c.pairs2 <= 0 or c.lag2 < max(1.0, min_pairs) or c.windows <= 0:
        return None
    r = min(0.45, window_s / rotation_s) if rotation_s > 0 else 0.0
    p = max(_P_FLOOR, min(1.0, c.run3 / c.lag2))
    a1 = c.lag1 / c.pairs1 / (1 - r)
    a2 = c.lag2 / c.pairs2 / (1 - 2 * r)
    awake = a1 / (p * p)
    phi = max(_PHI_FLOOR, min(1.0, a2 / a1)) if a1 > 0 else 1.0
    turnover = 1.0 - math.log(phi)
    doze = 0.0
    var_doze = 0.0
    if doze_q > 0:
        xbar = c.detections / c.windows
        doze = max(0.0, (xbar / turnover - p * awake) / doze_q)
        # Doze sightings are ~independent between windows (bursts ~9 windows apart).
        var_doze = doze * (1 - doze_q) / doze_q / max(1.0, c.windows / 15.0)
    # Binomial thinning of the awake count plus the delta-method error of p (Var p ~
    # p (1-p) / lag2, and awake ~ 1/p^2).
    var_p = p * (1 - p) / c.lag2
    var_awake = awake * (1 - p * p) / (p * p) + (2 * awake / p) ** 2 * var_p
    return Measured(awake + doze, awake, doze, p, turnover, var_awake + var_doze)
