"""The pooled ratio's design variance equals samplics' Taylor linearisation; singleton strata,
post-stratification, verdicts and visits needed behave as documented."""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import replace

import pytest

from aggregator.report.headline import AT, BELOW, UNSURE, more_visits, verdict
from aggregator.report.pooling import ClusterPair, pooled_ratio


def _pairs(rng: random.Random, n: int, strata: tuple[str, ...]) -> list[ClusterPair]:
    out = []
    for i in range(n):
        x = rng.uniform(20, 200) * 600
        y = x * rng.uniform(0.1, 0.7)
        out.append(ClusterPair(f"s{i}", strata[i % len(strata)], "headcount", y, x, 0.0, 0.0,
                               600.0, rng.choice((1.0, 2.0, 3.5))))  # fmt: skip
    return out


def test_design_variance_equals_samplics_taylor_ratio() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samplics announces at import that it is archived
        samplics = pytest.importorskip("samplics")
    import numpy as np

    rng = random.Random(7)
    pairs = _pairs(rng, 30, ("office", "market", "counter"))
    ours = pooled_ratio(pairs)
    est = samplics.TaylorEstimator(samplics.PopParam.ratio)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.estimate(
            y=np.array([q.bluezone for q in pairs]), x=np.array([q.owners for q in pairs]),
            samp_weight=np.array([q.weight for q in pairs]),
            stratum=np.array([q.stratum for q in pairs]), psu=np.arange(len(pairs)),
        )  # fmt: skip
    assert ours.variance == "design"
    assert ours.value == pytest.approx(float(est.point_est), rel=1e-9)
    assert ours.se == pytest.approx(float(est.stderror), rel=1e-9)


def test_singleton_stratum_keeps_its_model_variance() -> None:
    rng = random.Random(3)
    pairs = _pairs(rng, 6, ("market",))
    lone = ClusterPair("office-1", "office", "headcount", 30.0 * 600, 60.0 * 600,
                       40.0 * 600**2, 12.0 * 600**2, 600.0)  # fmt: skip
    with_lone = pooled_ratio([*pairs, lone])
    no_var = pooled_ratio([*pairs, replace(lone, var_bluezone=0.0, var_owners=0.0)])
    assert with_lone.se is not None and no_var.se is not None
    assert with_lone.se > no_var.se  # the office's detection and ownership noise counts


def test_post_stratified_weights_strata_by_registry_population() -> None:
    a = ClusterPair("o", "office", "headcount", 80.0, 100.0, 1.0, 1.0, 1.0)
    b = ClusterPair("m", "market", "ios_internal", 10.0, 100.0, 1.0, 1.0, 1.0)
    plain = pooled_ratio([a, b])
    post = pooled_ratio([a, b], population={"office": 100.0, "market": 900.0})
    assert plain.value == pytest.approx(0.45)
    assert post.value == pytest.approx((100 * 0.8 + 900 * 0.1) / 1000) and post.post_stratified


def test_verdicts_and_visits_needed() -> None:
    rng = random.Random(11)
    pairs = _pairs(rng, 8, ("office", "market"))
    p = pooled_ratio(pairs)
    assert p.value is not None and p.low is not None and p.high is not None
    assert verdict(p, p.low - 0.01).status == AT
    assert verdict(p, p.high + 0.01).status == BELOW
    mid = verdict(p, p.value + (p.high - p.value) / 2)
    assert mid.status == UNSURE and mid.more_visits is not None and mid.more_visits >= 1
    # Closer to the target needs more visits; the count follows n (crit se / gap)^2 - n.
    near = more_visits(p, p.value + (p.high - p.value) / 4)
    assert near is not None and near > mid.more_visits
    assert more_visits(p, p.value) is None  # on the target: no number of visits decides it
    assert math.isfinite(p.se or math.nan)
