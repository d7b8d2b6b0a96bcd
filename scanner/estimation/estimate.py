"""Adoption estimators over per-cluster totals: head-count, iOS-internal, BLE-denominator (pure).

Derivations (also printed in the report's method notes):

* A **cluster** is one node's windows at one site on one UTC day (a visit, or a fixed node's
  day). Windows of a cluster share people and phones, so they are strongly correlated; all
  between-window averaging happens inside a cluster and intervals treat clusters as the units.
* **Exclusions**: a window with `health.clock_synced is False` (when `require_clock_sync`) is
  dropped (its slot alignment is meaningless); otherwise a window with
  `scanned_s < coverage_min * window_s` is dropped. Both are counted and reported.
* **Bluezone Android** is keyed by its 12-byte rolling ID, constant for a UTC quarter-hour slot
  (docs/protocol.md §2.9); the phone advertises in 15 s bursts every 30 s, or every ~9 min in Doze
  (§0.3). Listening for tau seconds, a present phone is seen with probability
  p(tau) = (1-d) min(1, (tau+b)/c) + d min(1, (tau+b)/D)   (burst b, period c, Doze share d and
  period D: an interval of length tau at a uniform phase overlaps a burst w.p. (tau+b)/period).
  Default (`android_slot_counts` = 0): N_a = mean over windows of x_w / p(W). Alternative (= 1,
  stable offices only): slot s with X_s distinct IDs after tau_s s of listening gives
  N_a = sum_s tau_s X_s / p(tau_s) / sum_s tau_s (slots with tau_s >= min_slot_scan_s); robust to
  Doze, but X_s counts everyone who passed during the slot, which at a market is ~(1 + 900/dwell)
  times the people present at one instant (measured: +37 pp bias in bench/accuracy.py --source
  counts), hence not the default. Detection variance N_a (1-p)/p (binomial thinning, windows of a
  visit taken as fully correlated).
* **iPhones and Bluezone iOS** are keyed by address, which rotates every T ~ 15 min on a clock of
  its own (§5): a device present during a window of W seconds shows up as 1 + W/T keys on
  average (a rotation falls in the window with probability W/T). Per-window counts are divided by
  that factor and by the per-window detection probability of their stratum, then averaged.
* **Turnover** (markets, counters; `dwell_s` from the site type): a window catches everyone
  present at any time in it, ~(1 + W/dwell) times the people present at one instant, which is
  what a head count measures; per-window counts are divided by it. Over a visit of V seconds
  ~(1 + V/dwell) independent sets of people pass, so the ownership variance shrinks by that;
  detection noise is kept at one set (with it shrunk too, market intervals covered 79 %).
* **Visit-to-visit detection spread** (`detection_cv`) is added to each visit's Bluezone
  variance: it is one draw per visit and does not average out. It is the spread *beyond*
  binomial thinning (which is already in the variance): measured on calibration visits as
  sqrt(max(0, cv_total^2 - binomial relvar)) (bench/sim_pipeline.py; 0 for all three
  simulated site types, whose observed spread is below the thinning model's).
* **Head-count**: r = B / (H s), B = N_a + N_ios Bluezone phones, H people present (inspector's
  head count, else the registry's staff count), s smartphone share. Within-cluster variance:
  detection noise of B plus binomial ownership Var(M) = H s (1-s) of the M = H s owners.
* **iOS-internal**: r = N_ios / N_iphone (same rotation, so it cancels); only iPhones, and
  background Bluezone iPhones are seen only through the (collision-prone) overflow bit.
* **BLE-denominator**: r = B / (N_iphone / q), q the iOS share; the weakest: idle Android phones
  advertise nothing (docs/protocol.md §4.6), so smartphones are inferred from iPhones alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from scanner.estimation.intervals import Term, ratio_ci
from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams, for_site_type
from scanner.wire.schema import SLOT_SECONDS, WindowReport

DAY_SECONDS = 86_400
METHODS = ("headcount", "ios_internal", "ble_denominator")


@dataclass(frozen=True, slots=True)
class ClusterTotals:
    """Sums over one cluster's windows; the aggregator computes the same sums in SQL."""

    site: str
    node: str
    day: int  # UTC day start, epoch seconds
    windows: int
    used: int
    excl_clock: int
    excl_coverage: int
    window_s_sum: float = 0.0  # over used windows
    ios_fg: int = 0
    ios_bg: int = 0
    iphone: int = 0
    phone: int = 0
    android_win: int = 0
    android_hat_tau: float = 0.0  # sum_s tau_s * X_s / p(tau_s)
    android_tau: float = 0.0  # sum_s tau_s
    android_p_tau: float = 0.0  # sum_s tau_s * p(tau_s)
    headcount: float | None = None  # mean of the windows' head counts


@dataclass(frozen=True, slots=True)
class Estimate:
    """An adoption estimate, or `value is None` with the reason it is not estimable."""

    method: str
    value: float | None
    low: float | None
    high: float | None
    clusters: int
    windows: int
    excluded: Mapping[str, int] = field(default_factory=dict)
    reason: str | None = None
    variance: str = ""
    bluezone: float = 0.0
    denominator: float = 0.0
    se: float | None = None

    @property
    def estimable(self) -> bool:
        return self.value is not None


def slot_detection(tau_s: float, p: EstimationParams) -> float:
    """Probability that a present Bluezone Android phone is seen in tau_s seconds of a slot."""
    b, c = p.v("android_burst_s"), p.v("android_period_s")
    d, big = p.v("android_doze_share"), p.v("android_doze_period_s")
    awake = (1 - d) * min(1.0, (tau_s + b) / c) + d * min(1.0, (tau_s + b) / big)
    return p.v("android_advertising") * awake


def exclusion(report: WindowReport, p: EstimationParams) -> str | None:
    """Why a window is not used ("clock", "coverage"), or None when it is used."""
    if p.v("require_clock_sync") >= 0.5 and report.health.clock_synced is False:
        return "clock"
    if report.health.scanned_s < p.v("coverage_min") * report.window_s:
        return "coverage"
    return None


def clusters_from_reports(
    reports: Iterable[WindowReport], p: EstimationParams = DEFAULT_PARAMS
) -> list[ClusterTotals]:
    """Group WindowReports into (site, node, UTC day) clusters (node side; same sums as SQL)."""
    acc: dict[tuple[str, str, int], dict[str, float]] = {}
    slots: dict[tuple[str, str, int], dict[int, list[float]]] = {}
    heads: dict[tuple[str, str, int], list[int]] = {}
    for r in reports:
        key = (r.site, r.node, r.window_start - r.window_start % DAY_SECONDS)
        a = acc.setdefault(key, dict.fromkeys(_SUM_FIELDS, 0.0))
        a["windows"] += 1
        why = exclusion(r, p)
        if r.headcount is not None:
            heads.setdefault(key, []).append(r.headcount)
        if why == "clock":
            a["excl_clock"] += 1
            continue
        slot = slots.setdefault(key, {}).setdefault(r.window_start // SLOT_SECONDS, [0.0, 0.0])
        slot[0] = max(slot[0], r.slot_counts.get("bluezone", {}).get("android", 0))
        slot[1] += r.health.scanned_s
        if why == "coverage":
            a["excl_coverage"] += 1
            continue
        a["used"] += 1
        a["window_s_sum"] += r.window_s
        a["ios_fg"] += r.count("bluezone", "ios_fg")
        a["ios_bg"] += r.count("bluezone", "ios_bg")
        a["iphone"] += r.count("iphone")
        a["phone"] += r.count("phone")
        a["android_win"] += r.count("bluezone", "android")
    out = []
    for key, a in acc.items():
        hat = tau = ptau = 0.0
        for x, t in slots.get(key, {}).values():
            if t >= p.v("min_slot_scan_s"):
                q = slot_detection(t, p)
                hat, tau, ptau = hat + t * x / q, tau + t, ptau + t * q
        h = heads.get(key)
        out.append(
            ClusterTotals(
                site=key[0], node=key[1], day=key[2],
                windows=int(a["windows"]), used=int(a["used"]),
                excl_clock=int(a["excl_clock"]), excl_coverage=int(a["excl_coverage"]),
                window_s_sum=a["window_s_sum"], ios_fg=int(a["ios_fg"]), ios_bg=int(a["ios_bg"]),
                iphone=int(a["iphone"]), phone=int(a["phone"]), android_win=int(a["android_win"]),
                android_hat_tau=hat, android_tau=tau, android_p_tau=ptau,
                headcount=sum(h) / len(h) if h else None,
            )
        )  # fmt: skip
    return sorted(out, key=lambda c: (c.site, c.node, c.day))


_SUM_FIELDS = ("windows", "used", "excl_clock", "excl_coverage", "window_s_sum", "ios_fg",
               "ios_bg", "iphone", "phone", "android_win")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DevicesHat:
    """Devices present in one cluster, corrected for rotation and detection, with variances."""

    android: float
    ios: float
    iphone: float
    var_android: float
    var_ios: float
    var_iphone: float
    people_sets: float = 1.0

    @property
    def bluezone(self) -> float:
        return self.android + self.ios


def devices(c: ClusterTotals, p: EstimationParams) -> DevicesHat:
    """Corrected device counts for a cluster with at least one used window."""
    mean_w = c.window_s_sum / c.used
    dwell = p.v("dwell_s")
    # Turnover: a window catches everyone present at any time in it, ~(1 + W/dwell) times the
    # people present at one instant (what a head count measures).
    turn = 1 + mean_w / dwell if dwell > 0 else 1.0
    rot = (1 + mean_w / p.v("ios_rotation_s")) * turn
    per = c.used * rot
    p_fg, p_bg, p_ip = p.v("p_ios_fg"), p.v("p_ios_bg"), p.v("p_iphone")
    fg, bg = c.ios_fg / (p_fg * per), c.ios_bg / (p_bg * per)
    iph = c.iphone / (p_ip * per)
    if p.v("android_slot_counts") >= 0.5 and c.android_tau > 0:
        android, pa = c.android_hat_tau / c.android_tau, c.android_p_tau / c.android_tau
    else:  # per-window ID counts, each window one listening interval of about window_s
        pa = slot_detection(mean_w, p)
        android = c.android_win / c.used / pa / turn
    # With turnover the visit sees ~(1 + V/dwell) independent sets of people over its V
    # seconds: smartphone ownership averages over them (people_sets), but detection noise is
    # kept at one set (conservative; bench/accuracy.py found market intervals too narrow).
    eff = 1 + c.window_s_sum / dwell if dwell > 0 else 1.0
    return DevicesHat(
        android=android,
        ios=fg + bg,
        iphone=iph,
        var_android=android * _thin(pa),
        var_ios=fg * _thin(p_fg) + bg * _thin(p_bg),
        var_iphone=iph * _thin(p_ip),
        people_sets=eff,
    )


ParamsFor = Callable[[str], EstimationParams]


def _thin(p: float) -> float:
    """(1-p)/p: variance factor of binomial thinning; 0 for a calibration factor above 1."""
    return max(0.0, (1 - p) / p)


def _const(p: EstimationParams) -> ParamsFor:
    def for_site(_site: str) -> EstimationParams:
        return p

    return for_site


def estimate(
    method: str,
    clusters: Sequence[ClusterTotals],
    params: EstimationParams | ParamsFor = DEFAULT_PARAMS,
    *,
    staff: Mapping[str, int] | None = None,
    cache: dict[int, DevicesHat] | None = None,
) -> Estimate:
    """One method over clusters; `params` may be per site (registry overrides), `staff` gives
    the registry's staff count for clusters without an inspector's head count. `cache`, keyed
    by id(cluster), lets a caller that keeps the clusters alive compute each cluster's devices
    once across methods and groupings (the params for a site must not change meanwhile)."""
    pf: ParamsFor = params if callable(params) else _const(params)
    excluded = {
        "clock": sum(c.excl_clock for c in clusters),
        "coverage": sum(c.excl_coverage for c in clusters),
    }
    usable = [c for c in clusters if c.used > 0]
    n_used = sum(c.used for c in usable)
    p0 = pf(usable[0].site) if usable else pf("")

    def none(reason: str, n: int = 0) -> Estimate:
        return Estimate(method, None, None, None, n, n_used, excluded, reason)

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    if not usable:
        return none(
            "not enough data: no usable windows" if clusters else "not enough data: no windows"
        )
    terms: list[Term] = []
    no_head = 0

    def spread(d: DevicesHat, p: EstimationParams) -> float:
        # Visit-to-visit detection spread: one draw per visit, so it does not average out.
        return (d.bluezone * p.v("detection_cv")) ** 2

    for c in usable:
        p = pf(c.site)
        d = cache.get(id(c)) if cache is not None else None
        if d is None:
            d = devices(c, p)
            if cache is not None:
                cache[id(c)] = d
        if method == "headcount":
            h = c.headcount if c.headcount is not None else (staff or {}).get(c.site)
            if h is None:
                no_head += 1
                continue
            s = p.v("smartphone_share")
            own = h * s * (1 - s) / d.people_sets  # binomial smartphone ownership
            terms.append(Term(d.bluezone, h * s, d.var_android + d.var_ios + spread(d, p), own))
        elif method == "ios_internal":
            terms.append(Term(d.ios, d.iphone, d.var_ios, d.var_iphone))
        else:
            q = p.v("ios_share")
            den = d.iphone / q
            terms.append(
                Term(
                    d.bluezone,
                    den,
                    d.var_android + d.var_ios + spread(d, p),
                    d.var_iphone / q**2 + den * (1 - q) / q / d.people_sets,
                )
            )
    if no_head:
        excluded["no_headcount_clusters"] = no_head
    if not terms:
        return none("not enough data: no head count (inspector or registry staff count)")
    den = sum(t.den for t in terms)
    if den <= 0:
        why = {"headcount": "head count is zero", "ios_internal": "no iPhones seen",
               "ble_denominator": "no iPhones seen"}[method]  # fmt: skip
        return none(f"not enough data: {why}", len(terms))
    cv = p0.v("smartphone_share_cv") if method == "headcount" else 0.0
    ci = ratio_ci(terms, confidence=p0.v("confidence"), rel_cv=cv)
    return Estimate(
        method, ci.value, ci.low, ci.high, len(terms), n_used, excluded, None, ci.variance,
        bluezone=sum(t.num for t in terms), denominator=den, se=ci.se,
    )  # fmt: skip


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

    def lines(self) -> list[str]:
        """Plain-text lines (English; numbers only, nothing that identifies a device)."""
        out = [
            f"windows: {self.windows} ({self.used} used, {self.excluded.get('clock', 0)} clock not "
            f"synced, {self.excluded.get('coverage', 0)} poor scan coverage)",
            f"Bluezone phones present (corrected): {self.bluezone:.1f}; "
            f"iPhones: {self.iphones:.1f}; "
            f"head count: {'-' if self.headcount is None else f'{self.headcount:g}'}",
        ]
        for e in self.estimates:
            out.append(f"{e.method:16s} {format_estimate(e)}")
        return out


def format_estimate(e: Estimate) -> str:
    """'34.1 % (95 % CI 22.0-46.2 %)' or the reason it is not estimable."""
    if e.value is None or e.low is None or e.high is None:
        return e.reason or "not enough data"
    return f"{100 * e.value:.1f} % (95 % CI {100 * e.low:.1f}-{100 * e.high:.1f} %)"


def visit_summary(
    reports: Iterable[WindowReport],
    headcount: int | None = None,
    params: EstimationParams = DEFAULT_PARAMS,
    site_type: str | None = None,
) -> VisitSummary:
    """End-of-visit summary over a node's WindowReports; `headcount` (the inspector's count at
    the end) overrides any head counts carried by the windows; `site_type` (office, market,
    counter) selects the turnover correction."""
    params = for_site_type(params, site_type)
    clusters = clusters_from_reports(reports, params)
    if headcount is not None:
        clusters = [_with_headcount(c, float(headcount)) for c in clusters]
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
    )


def _with_headcount(c: ClusterTotals, h: float) -> ClusterTotals:
    return replace(c, headcount=h)
