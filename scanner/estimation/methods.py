"""The three adoption estimators over clusters, bounded to [0, 1] (pure; docs/method.md).

* **Head-count**: r = B / M, B Bluezone phones present (Android + iOS), M smartphone owners:
  the inspector's smartphone count when given, else H s (H people present: head count or the
  registry's staff count; s the smartphone share, an assumption unless registered, so its
  relative error `smartphone_share_cv` widens the interval). Within-cluster variance: detection
  noise of B plus binomial ownership Var(M) = H s (1-s) averaged over the sets of people seen.
* **iOS-internal**: r = N_ios / N_iphone (both address-keyed, seen the same way).
* **BLE-denominator**: r = B / (N_iphone / q), q the iOS share; the weakest (idle Android
  phones advertise nothing, docs/protocol.md §4.6).

A raw ratio above 1 is a misfit of the model to the site: the estimate is reported as 1 with
the reason in `misfit`, and `raw` keeps the unbounded ratio for diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from scanner.estimation.clusters import ClusterTotals
from scanner.estimation.devices import Detection, DevicesHat, devices
from scanner.estimation.intervals import Term, ratio_ci
from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams


class Method(StrEnum):
    """An adoption estimator (string-valued so reports can use it as a key)."""

    HEADCOUNT = "headcount"
    IOS_INTERNAL = "ios_internal"
    BLE_DENOMINATOR = "ble_denominator"


METHODS: tuple[Method, ...] = tuple(Method)
ParamsFor = Callable[[str], EstimationParams]

_DENOMINATOR = {
    Method.HEADCOUNT: "smartphone owners from the head count",
    Method.IOS_INTERNAL: "iPhones",
    Method.BLE_DENOMINATOR: "smartphones inferred from iPhones",
}


@dataclass(frozen=True, slots=True)
class Estimate:
    """An adoption estimate, or `value is None` with the reason it is not estimable.

    `bluezone` / `denominator` are the estimated Bluezone users and smartphone owners (or
    iPhones) summed over clusters, with their model variances; `detection` says whether
    detection was measured from capture histories or taken from the priors."""

    method: Method
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
    var_bluezone: float = 0.0
    var_denominator: float = 0.0
    detection: Detection | None = None
    raw: float | None = None
    misfit: str | None = None

    @property
    def estimable(self) -> bool:
        return self.value is not None


def _const(p: EstimationParams) -> ParamsFor:
    def for_site(_site: str) -> EstimationParams:
        return p

    return for_site


def _term(method: Method, c: ClusterTotals, d: DevicesHat, p: EstimationParams,
          staff: Mapping[str, int]) -> tuple[Term, float] | None:  # fmt: skip
    """One cluster's term and the relative error of an assumed share (None: no head count)."""
    if method is Method.HEADCOUNT:
        if c.smartphones is not None:
            return Term(d.bluezone, c.smartphones, d.var_bluezone, 0.0), 0.0
        h = c.headcount if c.headcount is not None else staff.get(c.site)
        if h is None:
            return None
        s = p.smartphone_share.value
        own = h * s * (1 - s) / d.people_sets  # binomial smartphone ownership
        return Term(d.bluezone, h * s, d.var_bluezone, own), p.smartphone_share_cv.value
    if method is Method.IOS_INTERNAL:
        return Term(d.ios, d.iphone, d.var_ios, d.var_iphone), 0.0
    q = p.ios_share.value
    den = d.iphone / q
    var_den = d.var_iphone / q**2 + den * (1 - q) / q / d.people_sets
    return Term(d.bluezone, den, d.var_bluezone, var_den), 0.0


def estimate(
    method: Method,
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
    method = Method(method)
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

    if not usable:
        return none(
            "not enough data: no usable windows" if clusters else "not enough data: no windows"
        )
    terms: list[Term] = []
    cvs: list[float] = []
    sources: set[Detection] = set()
    no_head = 0
    for c in usable:
        p = pf(c.site)
        d = cache.get(id(c)) if cache is not None else None
        if d is None:
            d = devices(c, p)
            if cache is not None:
                cache[id(c)] = d
        got = _term(method, c, d, p, staff or {})
        if got is None:
            no_head += 1
            continue
        terms.append(got[0])
        cvs.append(got[1])
        sources.add(d.detection)
    if no_head:
        excluded["no_headcount_clusters"] = no_head
    if not terms:
        return none("not enough data: no head count (inspector or registry staff count)")
    den = sum(t.den for t in terms)
    if den < 1e-6:  # below one millionth of a person: nothing to divide by
        why = "head count is zero" if method is Method.HEADCOUNT else "no iPhones seen"
        return none(f"not enough data: {why}", len(terms))
    # The share's error is common to the clusters that assumed it: weight by their share of M.
    cv = sum(cv * t.den for cv, t in zip(cvs, terms, strict=True)) / den
    ci = ratio_ci(terms, confidence=p0.confidence.value, rel_cv=cv)
    detection = sources.pop() if len(sources) == 1 else Detection.MIXED
    misfit = None
    if ci.raw > 1.0:
        misfit = (
            f"model misfit: raw ratio {ci.raw:.2f} > 1 (more Bluezone devices than "
            f"{_DENOMINATOR[method]}): a head count or share too low, or phones outside the "
            "site counted (check the RSSI gate)"
        )
    return Estimate(
        method, ci.value, ci.low, ci.high, len(terms), n_used, excluded, None, ci.variance,
        bluezone=sum(t.num for t in terms), denominator=den, se=ci.se,
        var_bluezone=sum(t.var_num for t in terms), var_denominator=sum(t.var_den for t in terms),
        detection=detection, raw=ci.raw, misfit=misfit,
    )  # fmt: skip
