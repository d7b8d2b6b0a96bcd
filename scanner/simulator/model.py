"""Scenario parameters of the site simulator, and loading them from the packaged YAML files.

Every field is documented with its source in `scanner/simulator/scenarios/*.yaml`; the defaults here
are those of an office and only matter for fields a scenario file leaves out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml

from scanner.errors import ScannerError

SITE_KINDS: Final = ("office", "market", "counter")


class ScenarioError(ScannerError, ValueError):
    """A scenario file or name that cannot be used; the message names the key and the file."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything that describes one site for the simulator (see the YAML files for sources)."""

    name: str = "office"
    kind: str = "office"
    # --- people
    staff: int = 40
    staff_presence: float = 0.9
    absences_per_hour: float = 0.5
    absence_median_s: float = 600.0
    visitors_per_hour: float = 6.0
    arrivals_per_hour: float = 0.0
    dwell_median_s: float = 600.0
    dwell_sigma: float = 0.6
    # --- phones and Bluezone
    smartphone_share: float = 0.85
    ios_share: float = 0.25
    adoption_android: float = 0.35
    adoption_ios: float = 0.35
    android_v1_share: float = 0.03
    android_v307_share: float = 0.0
    android_no_adv_share: float = 0.03
    android_doze_share: float = 0.2
    android_samsung_adv_share: float = 0.1
    ios_fg_share: float = 0.05
    ios_bg_silent_share: float = 0.3
    ios_bg_scan_rsp_share: float = 0.5
    iphone_other_bg_apps_share: float = 0.3
    clock_offset_sd_s: float = 3.0
    # --- other devices
    watch_share: float = 0.05
    earbuds_share: float = 0.05
    airtag_share: float = 0.01
    beacons: int = 1
    pcs: int = 5
    # --- radio
    radius_m: float = 12.0
    rssi_min_dbm: int = -90
    path_loss_exponent: float = 2.2
    shadowing_sd_db: float = 4.0
    fading_sd_db: float = 3.0
    body_loss_share: float = 0.5
    body_loss_db: float = 6.0
    sensitivity_dbm: float = -95.0
    passersby_per_hour: float = 30.0
    passersby_distance_m: tuple[float, float] = (40.0, 80.0)
    passersby_dwell_s: float = 60.0
    passersby_wall_loss_db: float = 6.0
    # --- scanner
    report_interval_s: float = 1.0
    mode: str = "active"
    source: str = ""

    def with_overrides(self, **kw: Any) -> Scenario:
        return dataclasses.replace(self, **kw)


_FIELDS: Final = {f.name: f for f in dataclasses.fields(Scenario)}
_SHARES: Final = tuple(n for n in _FIELDS if n.endswith("_share") or n.startswith("adoption_"))


def scenario_names() -> list[str]:
    """Names of the packaged scenarios (file stems of scanner/simulator/scenarios/*.yaml)."""
    root = resources.files("scanner.simulator") / "scenarios"
    names = (p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))
    return sorted(n for n in names if n != "province")  # province.yaml: the bzagg demo's plan


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A packaged scenario by name (office, market, counter, ...) or a YAML file by path."""
    text: str
    where = str(name_or_path)
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc.strerror or exc}") from exc
    else:
        res = resources.files("scanner.simulator") / "scenarios" / f"{name_or_path}.yaml"
        if not res.is_file():
            known = ", ".join(scenario_names())
            raise ScenarioError(f"unknown scenario {name_or_path!r}; packaged: {known}")
        text = res.read_text(encoding="utf-8")
        where = f"scenario {name_or_path}"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: not valid YAML ({exc})") from exc
    return scenario_from_dict(data, where=where)


def scenario_from_dict(data: object, *, where: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a mapping of parameter names to values")
    kw: dict[str, Any] = {}
    for key, value in data.items():
        f = _FIELDS.get(str(key))
        if f is None:
            raise ScenarioError(f"{where}: unknown key {key!r}")
        if key == "passersby_distance_m":
            if not (isinstance(value, list) and len(value) == 2):
                raise ScenarioError(f"{where}: {key} must be [min, max]")
            value = (float(value[0]), float(value[1]))
        elif isinstance(f.default, bool | str):
            value = str(value)
        elif isinstance(f.default, int):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ScenarioError(f"{where}: {key} must be an integer, got {value!r}")
        elif isinstance(f.default, float):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ScenarioError(f"{where}: {key} must be a number, got {value!r}")
            value = float(value)
        kw[str(key)] = value
    sc = Scenario(**kw)
    check_scenario(sc, where=where)
    return sc


def check_scenario(sc: Scenario, *, where: str = "scenario") -> None:
    if sc.kind not in SITE_KINDS:
        raise ScenarioError(f"{where}: kind must be one of {', '.join(SITE_KINDS)}")
    if sc.mode not in ("active", "passive"):
        raise ScenarioError(f"{where}: mode must be active or passive")
    for name in _SHARES:
        v = getattr(sc, name)
        if not 0.0 <= v <= 1.0:
            raise ScenarioError(f"{where}: {name} must be between 0 and 1, got {v}")
    if sc.radius_m <= 0 or sc.report_interval_s <= 0 or sc.dwell_median_s <= 0:
        raise ScenarioError(f"{where}: radius_m, report_interval_s, dwell_median_s must be > 0")
    lo, hi = sc.passersby_distance_m
    if not 0 < lo <= hi:
        raise ScenarioError(f"{where}: passersby_distance_m must be 0 < min <= max")
