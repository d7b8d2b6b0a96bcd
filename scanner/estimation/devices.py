"""Devices present in one cluster, corrected for detection, rotation and turnover (pure).

Detection and turnover come from the cluster's capture histories where they are thick enough
(`scanner.estimation.histories`); otherwise from the priors in estimation.yaml, with their
uncertainty widened by `prior_detection_cv` (docs/method.md, "fallback").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from scanner.estimation.clusters import ClusterTotals, slot_detection
from scanner.estimation.histories import Measured, measure
from scanner.estimation.params import EstimationParams


class Detection(Enum):
    """Where a cluster's detection probabilities came from."""

    MEASURED = "measured"  # capture histories of every stratum used
    PRIOR = "prior"  # the constant priors (histories absent or too thin)
    MIXED = "mixed"  # some strata or clusters measured, some prior


@dataclass(frozen=True, slots=True)
class DevicesHat:
    """Devices present at an instant in one cluster, with detection variances."""

    android: float
    ios: float
    iphone: float
    var_android: float
    var_ios: float
    var_iphone: float
    people_sets: float = 1.0
    detection: Detection = Detection.PRIOR
    # Relative spread of detection beyond thinning (visit-to-visit; wider under the priors).
    rel_spread: float = 0.0

    @property
    def bluezone(self) -> float:
        return self.android + self.ios

    @property
    def var_bluezone(self) -> float:
        return self.var_android + self.var_ios + (self.bluezone * self.rel_spread) ** 2


def _thin(p: float) -> float:
    """(1-p)/p: variance factor of binomial thinning; 0 for a calibration factor above 1."""
    return max(0.0, (1 - p) / p)


def devices(c: ClusterTotals, p: EstimationParams) -> DevicesHat:
    """Corrected device counts for a cluster with at least one used window."""
    mean_w = c.window_s_sum / c.used
    rot_s = p.ios_rotation_s.value
    min_pairs = p.capture_min_pairs.value

    def fit(name: str, rotation_s: float = 0.0, doze_block_s: float = 0.0) -> Measured | None:
        cs = c.capture.get(name)
        if cs is None:
            return None
        return measure(
            cs, window_s=mean_w, min_pairs=min_pairs, rotation_s=rotation_s,
            doze_block_s=doze_block_s, doze_share=p.android_doze_share.value,
            doze_share_sd=p.android_doze_share_sd.value,
        )  # fmt: skip

    block = p.android_doze_period_s.value
    m_and = fit("android", doze_block_s=block)
    m_iph = fit("iphone", rotation_s=rot_s)
    # Turnover from the best-measured stratum; else the site type's prior dwell.
    dwell = p.dwell_s.value
    prior_turn = 1 + mean_w / dwell if dwell > 0 else 1.0
    measured_turn = m_and or m_iph
    turn = measured_turn.turnover if measured_turn is not None else prior_turn
    rot = 1 + mean_w / rot_s
    per = c.used * rot * turn
    strata: list[bool] = []

    def address_keyed(
        name: str, count: int, prior: float, alive: float = 1.0
    ) -> tuple[float, float]:
        m = fit(name, rotation_s=rot_s)
        if m is not None:
            strata.append(True)
            # Phones that never advertise are invisible to any history: a prior share.
            return m.present / alive, m.variance / alive**2
        strata.append(False)
        n = count / (prior * per)
        return n, n * _thin(prior)

    fg, var_fg = address_keyed("ios_fg", c.ios_fg, p.p_ios_fg.value)
    bg, var_bg = address_keyed("ios_bg", c.ios_bg, p.p_ios_bg.value, p.ios_bg_advertising.value)
    if m_iph is not None:
        iph, var_iph = m_iph.present, m_iph.variance
    else:
        iph = c.iphone / (p.p_iphone.value * per)
        var_iph = iph * _thin(p.p_iphone.value)
    adv = p.android_advertising.value  # installs that advertise at all: not measurable
    if m_and is not None:
        android, var_android = m_and.present / adv, m_and.variance / adv**2
    elif p.android_slot_counts.value >= 0.5 and c.slots:
        android, var_android = _from_slots(c, p)
    else:  # per-window ID counts, each window one listening interval of about window_s
        pa = slot_detection(mean_w, p)
        android = c.android_win / c.used / pa / turn
        var_android = android * _thin(pa)
    # Old app versions (static BLID) are counted only through their slot histories.
    v1, var_v1 = _static_ids(c, p, mean_w, turn, fit("android_v1", doze_block_s=block))
    android, var_android = android + v1 / adv, var_android + var_v1 / adv**2
    # Android dominates the Bluezone count, so its source decides the label; the strata that
    # are empty in the cluster (no iPhones) do not make it "mixed".
    and_measured = m_and is not None or (c.android_win == 0 and not c.capture.get("android"))
    bz = [and_measured] + [s for s, n in zip(strata, (c.ios_fg, c.ios_bg), strict=True) if n]
    detection = (
        Detection.MEASURED if all(bz) else Detection.PRIOR if not any(bz) else Detection.MIXED
    )
    spread = p.detection_cv.value if m_and is not None else p.prior_detection_cv.value
    # What no history can see (docs/method.md, identifiability): on-site phones whose median
    # stays below the gate, and installs that never advertise; prior shares with their spread.
    k = 1 / (1 - min(0.9, p.gate_loss.value))
    var_android += (android * p.android_advertising_sd.value / adv) ** 2
    var_bg += (bg * p.ios_bg_advertising_sd.value / p.ios_bg_advertising.value) ** 2
    spread = (spread**2 + (p.gate_loss_sd.value * k) ** 2) ** 0.5
    android, fg, bg, iph = android * k, fg * k, bg * k, iph * k
    # Over a visit of V seconds ~(1 + V/dwell) independent sets of people pass: smartphone
    # ownership averages over them (people_sets), and so does which phones the gate misses, a
    # draw per phone (binomial thinning N g / (1 - g) for one set). Detection noise is kept at
    # one set. A calibrated loss below 0 (outside phones passing) scales down, adds no thinning.
    eff = 1 + c.window_s_sum / mean_w * (turn - 1)
    g = max(0.0, k - 1) / eff
    var_android, var_fg, var_bg, var_iph = (
        v * k * k + n * g
        for v, n in ((var_android, android), (var_fg, fg), (var_bg, bg), (var_iph, iph))
    )  # fmt: skip
    return DevicesHat(
        android=android, ios=fg + bg, iphone=iph, var_android=var_android,
        var_ios=var_fg + var_bg, var_iphone=var_iph, people_sets=eff, detection=detection,
        rel_spread=spread,
    )  # fmt: skip


def _from_slots(c: ClusterTotals, p: EstimationParams) -> tuple[float, float]:
    """Per-slot distinct IDs X_s after tau_s s of listening: sum tau X / p(tau) / sum tau
    (stable offices only: X_s counts everyone who passed during the slot)."""
    hat = tau = ptau = 0.0
    for x, t in c.slots:
        if t >= p.min_slot_scan_s.value:
            q = slot_detection(t, p)
            hat, tau, ptau = hat + t * x / q, tau + t, ptau + t * q
    if tau <= 0:
        pa = slot_detection(c.window_s_sum / c.used, p)
        n = c.android_win / c.used / pa
        return n, n * _thin(pa)
    android = hat / tau
    return android, android * _thin(ptau / tau)


def _static_ids(
    c: ClusterTotals, p: EstimationParams, mean_w: float, turn: float, m: Measured | None
) -> tuple[float, float]:
    """Bluezone Android v1 phones (static BLID, docs/protocol.md §2.1): from their capture
    histories when thick enough, else their mean per-window count over the prior detection."""
    if m is not None:
        return m.present, m.variance
    cs = c.capture.get("android_v1")
    if cs is None or cs.windows <= 0:
        return 0.0, 0.0
    pa = slot_detection(mean_w, p) / p.android_advertising.value
    n = cs.detections / cs.windows / pa / turn
    return n, n * _thin(pa)
