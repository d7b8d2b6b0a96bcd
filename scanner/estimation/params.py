"""Estimation parameters with their provenance (config/estimation.yaml); node-safe, no pandas."""

# Param is a frozen value type, so a shared default instance is safe.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

import yaml

from scanner.errors import ScannerError


class ParamsError(ScannerError, ValueError):
    """A parameter file or value that cannot be used; the message names the key and the file."""


@dataclass(frozen=True, slots=True)
class Param:
    """One number and where it comes from (printed in every report's method notes)."""

    value: float
    source: str


_P = Param


@dataclass(frozen=True, slots=True)
class EstimationParams:
    """Every number the estimators use; defaults mirror config/estimation.yaml (tested)."""

    smartphone_share: Param = _P(
        0.70,
        "assumption: share of adults present who carry a smartphone; no verified Ninh Thuận "
        "figure found, calibrate per site (sites.yaml smartphone_share) by asking at a visit",
    )
    smartphone_share_cv: Param = _P(
        0.2,
        "relative standard error of an assumed smartphone_share, added to every head-count "
        "interval (0.2 spans shares of about 0.45-0.95 around 0.7); a site's registered share "
        "or the inspector's smartphone count (--smartphones) sets it to 0",
    )
    detection_cv: Param = _P(
        0.1,
        "assumption: relative visit-to-visit spread of detection (where people stand, bodies, "
        "phones in bags) beyond binomial noise; added to each visit's Bluezone count variance; "
        "measure it on calibration visits",
    )
    ios_share: Param = _P(
        0.30,
        "assumption: share of smartphones that are iPhones (order of magnitude of 2020 "
        "web-traffic shares for Vietnam; unverified here, override per site)",
    )
    coverage_min: Param = _P(
        0.8,
        "project rule: windows with scanned_s / window_s below this are excluded and counted",
    )
    require_clock_sync: Param = _P(
        1.0,
        "project rule: 1 = windows whose health.clock_synced is false are excluded (slot "
        "alignment, docs/architecture.md §5); unknown (null) is kept",
    )
    android_burst_s: Param = _P(
        15.0, "docs/protocol.md §0.3: Bluezone Android advertises 15 s bursts"
    )
    android_period_s: Param = _P(30.0, "docs/protocol.md §0.3: 15 s on / 15 s off, period 30 s")
    android_doze_share: Param = _P(
        0.25,
        "assumption: share of Bluezone Android phones in Doze during a visit (docs/protocol.md "
        "§0.3 inference; no measurement found): mid-point of the 0-50 % range the spreads "
        "(prior_detection_cv, android_doze_share_sd) are set for",
    )
    android_advertising: Param = _P(
        0.925,
        "assumption: share of Bluezone Android phones whose stack advertises at all (some run "
        "scan-only, docs/protocol.md §2.7; mid-point of 85-100 %); detection is multiplied by it",
    )
    android_doze_period_s: Param = _P(
        540.0, "docs/protocol.md §0.3: in Doze the 30 s cycle can degrade to >= 9 min steps"
    )
    android_slot_counts: Param = _P(
        0.0,
        "estimator choice: 0 = Bluezone Android from per-window ID counts / p(window) (right "
        "when people come and go: markets, counters); 1 = from per-slot distinct IDs (robust to "
        "Doze, but counts everyone who passed during the slot; only for stable offices)",
    )
    dwell_s: Param = _P(
        0.0,
        "mean time a person stays (s); 0 = stable population (offices). Set per site from its "
        "type (dwell_market_s, dwell_counter_s): a window of W s catches ~(1 + W/dwell) times "
        "the people present at one instant, so per-window counts are divided by that",
    )
    dwell_market_s: Param = _P(
        1200.0, "assumption: mean stay at a market ~20 min; check with the inspector's notes"
    )
    dwell_counter_s: Param = _P(600.0, "assumption: mean stay at a transaction counter ~10 min")
    min_slot_scan_s: Param = _P(
        60.0, "docs/protocol.md §5: >= 60 s of listening per quarter-hour slot recommended"
    )
    p_ios_fg: Param = _P(
        0.95,
        "assumption: per-window detection of a foreground Bluezone iPhone (UUID 00004E56 in the "
        "main advert, docs/protocol.md R4)",
    )
    p_ios_bg: Param = _P(
        0.7,
        "assumption: per-window detection of a background Bluezone iPhone via the overflow bit "
        "(docs/protocol.md R6; app must be alive; 2025 iOS needs active scanning, §0.6)",
    )
    p_iphone: Param = _P(
        0.95,
        "assumption: per-window detection of an iPhone's Nearby Info (~265 ms interval, "
        "docs/protocol.md §0.8)",
    )
    ios_rotation_s: Param = _P(
        900.0, "docs/protocol.md §5: iOS address rotates about every 15 min, unsynchronised"
    )
    confidence: Param = _P(0.95, "reporting convention: 95 % intervals")
    ios_bg_advertising: Param = _P(
        0.65,
        "assumption: share of background Bluezone iPhones whose app still advertises (the "
        "overflow bit needs the app alive, docs/protocol.md R6); mid-point of 40-90 %; capture "
        "histories cannot see the silent ones, so measured counts are divided by it",
    )
    capture_min_pairs: Param = _P(
        8.0,
        "estimator choice: detection is measured from capture histories (docs/method.md) when "
        "a cluster has at least this many IDs seen two windows apart; else the priors above",
    )
    prior_detection_cv: Param = _P(
        0.3,
        "relative spread of detection added when the priors stand in for a measurement (Doze "
        "share 0-50 % moves Android detection by about this much, docs/method.md)",
    )
    android_doze_share_sd: Param = _P(
        0.15,
        "prior standard deviation of android_doze_share (range about 0-50 %), added to "
        "intervals: 20-minute capture histories cannot tell a dozing phone's ~9 min off step "
        "from a departure (docs/method.md)",
    )
    gate_loss: Param = _P(
        0.25,
        "bench/gate_loss_prior.py: on-site phones whose median RSSI falls below a gate set "
        "at the boundary's median (uniform placement, path-loss exponent 1.8-2.6, shadowing "
        "sd 2-7 dB, 20-80 % of phones in a pocket or bag at 3-9 dB) average 0.256 across "
        "sites (5-95 % 0.20-0.31); rounded down a little, as phones just outside that pass "
        "the gate offset part of it; measured counts are divided by 1 - gate_loss; no "
        "capture history can see the missed phones",
    )
    gate_loss_sd: Param = _P(
        0.05,
        "prior standard deviation of gate_loss: the geometry's 0.033 across sites and as "
        "much again for the unknown share of outside phones that pass the gate, added to "
        "intervals",
    )
    android_advertising_sd: Param = _P(
        0.04,
        "prior standard deviation of android_advertising (scan-only installs 0-15 %), added to "
        "intervals: never-advertising phones are invisible to any field data",
    )
    ios_bg_advertising_sd: Param = _P(
        0.14,
        "prior standard deviation of ios_bg_advertising (range 40-90 %), added to intervals",
    )

    def items(self) -> Iterator[tuple[str, Param]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)

    def override(self, source: str, **values: float | None) -> EstimationParams:
        """New params with some values replaced (e.g. a site's smartphone share)."""
        changes = {k: Param(float(v), source) for k, v in values.items() if v is not None}
        for k in changes:
            if k not in _NAMES:
                raise ParamsError(f"unknown estimation parameter {k!r}")
        return replace(self, **changes)


_NAMES: Final = frozenset(f.name for f in fields(EstimationParams))
_UNIT: Final = frozenset(
    {"smartphone_share", "ios_share", "coverage_min", "android_doze_share", "p_ios_fg",
     "p_ios_bg", "p_iphone", "confidence", "require_clock_sync", "android_slot_counts",
     "android_advertising", "prior_detection_cv", "ios_bg_advertising", "gate_loss",
     "gate_loss_sd", "android_advertising_sd", "ios_bg_advertising_sd",
     "android_doze_share_sd"}
)  # fmt: skip
DEFAULT_PARAMS: Final = EstimationParams()


def for_site_type(p: EstimationParams, site_type: str | None) -> EstimationParams:
    """The params for a site of this type: markets and counters get their turnover (dwell)."""
    name = {"market": "dwell_market_s", "counter": "dwell_counter_s"}.get(site_type or "")
    if name is None:
        return p
    param: Param = getattr(p, name)
    return p.override(f"{param.source} ({name})", dwell_s=param.value)


def params_from_mapping(data: Mapping[str, Any], where: str = "<mapping>") -> EstimationParams:
    """Build params from `{name: {value: x, source: "..."}}` (or `{name: x}`); unknown keys fail."""
    changes: dict[str, Param] = {}
    for key, raw in data.items():
        if key not in _NAMES:
            raise ParamsError(
                f"unknown key {key!r} in {where} (known: {', '.join(sorted(_NAMES))})"
            )
        if isinstance(raw, Mapping):
            value, source = raw.get("value"), str(raw.get("source", f"{where}"))
        else:
            value, source = raw, where
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsError(f"key {key!r} in {where}: value must be a number")
        value = float(value)
        if not value >= 0 or (key in _UNIT and value > 1) or (key == "confidence" and value <= 0):
            raise ParamsError(f"key {key!r} in {where}: {value} is out of range")
        changes[key] = Param(value, source)
    for key in ("smartphone_share", "ios_share", "p_ios_fg", "p_ios_bg", "p_iphone"):
        if key in changes and changes[key].value <= 0:
            raise ParamsError(f"key {key!r} in {where}: must be > 0")
    return replace(DEFAULT_PARAMS, **changes)


def load_params(path: Path | str | None) -> EstimationParams:
    """Read config/estimation.yaml (or another file); None gives the built-in defaults."""
    if path is None:
        return DEFAULT_PARAMS
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamsError(f"cannot read {p}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ParamsError(f"{p}: not valid YAML: {exc}") from exc
    if data is None:
        return DEFAULT_PARAMS
    if not isinstance(data, Mapping):
        raise ParamsError(f"{p}: expected a mapping of parameter names")
    return params_from_mapping(data, str(p))
