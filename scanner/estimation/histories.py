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
* Doze phones sit "on" or "off" for ~9 minutes at a time, a long-run duty near 50 %
  (docs/protocol.md §2.7): at an instant only about half of them are on air, so `a1 / p^2`
  counts the awake ones and half the dozing ones. Over a quarter-hour slot nearly every dozing
  phone present is on at some point, so the mean distinct devices per slot U exceeds what the
  on-air devices and the turnover explain: U = (1 + n lambda) (N_awake + pi N_doze) with n
  windows per slot, lambda = W / mean stay and pi the chance a dozing phone is on during its stay
  in the slot; with N_awake = A - N_doze / 2 this gives N_doze = (U / (1 + n lambda) - A) /
  (pi - 1/2). Block ends look like departures in phi, so phi is corrected for them (the share
  of on-air dozing phones whose block ends within W is W / block) by a few fixed-point steps.

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
    doze_block_s: float = 0.0,
    doze_share: float = 0.0,
    doze_share_sd: float = 0.0,
) -> Measured | None:
    """Fit detection and turnover for one stratum, or None when the histories are too thin
    (fewer than `min_pairs` devices seen two windows apart, or no usable window pairs).
    `doze_block_s` > 0 (rolling-ID strata only) fits the Doze share too."""
    if c.pairs1 <= 0 or c.pairs2 <= 0 or c.lag2 < max(1.0, min_pairs) or c.windows <= 0:
        return None
    r = min(0.45, window_s / rotation_s) if rotation_s > 0 else 0.0
    p = max(_P_FLOOR, min(1.0, c.run3 / c.lag2))
    a1 = c.lag1 / c.pairs1 / (1 - r)
    a2 = c.lag2 / c.pairs2 / (1 - 2 * r)
    on_air = a1 / (p * p)  # awake + the dozing phones on air, at an instant
    phi_obs = max(_PHI_FLOOR, min(1.0, a2 / a1)) if a1 > 0 else 1.0
    phi, doze, var_doze = phi_obs, 0.0, 0.0
    if doze_block_s > 0 and on_air > 0 and doze_share > 0:
        # N = A / (1 - d/2) (half the dozing phones on air at an instant). Block ends within
        # W look like departures: phi_obs = phi (1 - rho x / (2 A)).
        rho = min(1.0, window_s / doze_block_s)
        d = min(0.95, doze_share)
        doze = on_air * d / (1 - d / 2)
        phi = max(_PHI_FLOOR, min(1.0, phi_obs / max(0.5, 1 - 0.5 * rho * doze / on_air)))
        # The share's prior spread, plus each dozing phone's on/off state: one draw per ~2
        # steps listened (on at an instant w.p. 1/2), scaled up by N = A / (1 - d/2).
        cycles = max(1.0, c.windows * window_s / (2 * doze_block_s))
        var_doze = (on_air * doze_share_sd / (2 * (1 - d / 2) ** 2)) ** 2
        var_doze += doze / 4 / cycles / (1 - d / 2) ** 2
    awake = max(0.0, on_air - doze / 2)
    turnover = 1.0 - math.log(phi)
    # Binomial thinning of the on-air count plus the delta-method error of p (Var p ~
    # p (1-p) / lag2, and on_air ~ 1/p^2). A p of 1 seen on n pairs is not certain: its
    # variance is floored at 1/n^2 (a standard error of one pair, cf. the rule of three).
    var_p = max(p * (1 - p), 1 / c.lag2) / c.lag2
    var_awake = on_air * (1 - p * p) / (p * p) + (2 * on_air / p) ** 2 * var_p
    return Measured(awake + doze, awake, doze, p, turnover, var_awake + var_doze)
