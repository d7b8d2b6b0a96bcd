"""The site registry (config/sites.yaml): where each site is, what it is, and its overrides."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from aggregator.errors import AggregatorError
from scanner.estimation.params import EstimationParams, for_site_type
from scanner.wire.schema import SchemaError, check_id

SITE_TYPES: Final = ("office", "market", "counter", "other")
UNREGISTERED: Final = "?"
_FIELDS: Final = ("id", "name", "type", "district", "commune", "staff", "smartphone_share",
                  "ios_share", "weight", "population", "bluezone_shown")  # fmt: skip
_HEADER: Final = """\
# Site registry of bluezone-audit (bzagg sites import / bzagg sites list).
# id: the site id nodes publish under (MQTT topic); letters, digits, '_', '-', '.'.
# type: office | market | counter | other. staff: people working there (offices; used as the
# head count when no inspector counted). smartphone_share / ios_share: optional overrides of
# config/estimation.yaml for this site, printed with the site as their source.
# weight: optional design weight (sites like this one it stands for; default 1). population:
# optional smartphone owners the site stands for; given, district and province figures are
# post-stratified by site type to it (docs/method.md, "Pooling and small cells").
# bluezone_shown: optional; at a calibration visit, the Bluezone users present who showed the
# app to the inspector. Ten or more such sites measure the RSSI gate's net loss in place of the
# gate_loss prior (docs/method.md, "Calibration visits").
"""


class SiteError(AggregatorError, ValueError):
    """A registry entry or file that cannot be used; the message names the entry and the file."""


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    name: str
    type: str
    district: str
    commune: str
    staff: int | None = None
    smartphone_share: float | None = None
    ios_share: float | None = None
    weight: float | None = None
    population: float | None = None
    bluezone_shown: int | None = None


@dataclass(frozen=True, slots=True)
class Registry:
    """Sites by id. Windows from ids not listed here are kept and flagged as unregistered."""

    sites: Mapping[str, Site]

    def get(self, site_id: str) -> Site | None:
        return self.sites.get(site_id)

    def attrs(self, site_id: str) -> tuple[str, str, str, str, bool]:
        """(name, type, district, commune, registered) with '?' for an unknown site."""
        s = self.sites.get(site_id)
        if s is None:
            return site_id, UNREGISTERED, UNREGISTERED, UNREGISTERED, False
        return s.name, s.type, s.district, s.commune, True

    def population(self, district: str | None = None) -> dict[str, float]:
        """Smartphone owners per site type from the registry (all registered sites of the
        district, or of the province), for post-stratification; {} when none is given."""
        out: dict[str, float] = {}
        for s in self.sites.values():
            if s.population is not None and (district is None or s.district == district):
                out[s.type] = out.get(s.type, 0.0) + s.population
        return out

    def staff(self) -> dict[str, int]:
        return {k: s.staff for k, s in self.sites.items() if s.staff is not None}

    def params_for(self, base: EstimationParams) -> Callable[[str], EstimationParams]:
        """Per-site parameters: the registry's overrides on top of config/estimation.yaml."""
        cache: dict[str, EstimationParams] = {}

        def for_site(site_id: str) -> EstimationParams:
            if site_id not in cache:
                s = self.sites.get(site_id)
                p = base if s is None else for_site_type(base, s.type)
                if s is not None and (s.smartphone_share is not None or s.ios_share is not None):
                    p = p.override(
                        f"sites.yaml: {site_id}",
                        smartphone_share=s.smartphone_share,
                        # A registered share is the site's value, not an assumption.
                        smartphone_share_cv=None if s.smartphone_share is None else 0.0,
                        ios_share=s.ios_share,
                    )
                cache[site_id] = p
            return cache[site_id]

        return for_site


def site_from_mapping(raw: Mapping[str, Any], where: str) -> Site:
    """Validate one entry (from YAML or a CSV row; empty CSV cells mean 'not given')."""
    data = {str(k).strip(): (v.strip() if isinstance(v, str) else v) for k, v in raw.items()}
    data = {k: v for k, v in data.items() if v not in ("", None)}
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise SiteError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in ("id", "name", "type", "district", "commune"):
        if key not in data:
            raise SiteError(f"{where}: missing '{key}'")
    try:
        sid = check_id(str(data["id"]), "site")
    except SchemaError as exc:
        raise SiteError(f"{where}: {exc}") from exc
    if data["type"] not in SITE_TYPES:
        raise SiteError(f"{where} ({sid}): type must be one of {', '.join(SITE_TYPES)}")
    staff = _number(data.get("staff"), int, f"{where} ({sid}): staff")
    if staff is not None and staff < 0:
        raise SiteError(f"{where} ({sid}): staff must be >= 0")
    shown = _number(data.get("bluezone_shown"), int, f"{where} ({sid}): bluezone_shown")
    if shown is not None and shown < 0:
        raise SiteError(f"{where} ({sid}): bluezone_shown must be >= 0")
    shares = {}
    for key in ("smartphone_share", "ios_share"):
        v = _number(data.get(key), float, f"{where} ({sid}): {key}")
        if v is not None and not 0 < v <= 1:
            raise SiteError(f"{where} ({sid}): {key} must be in (0, 1]")
        shares[key] = v
    for key in ("weight", "population"):
        v = _number(data.get(key), float, f"{where} ({sid}): {key}")
        if v is not None and not v > 0:
            raise SiteError(f"{where} ({sid}): {key} must be > 0")
        shares[key] = v
    return Site(
        id=sid,
        name=str(data["name"]),
        type=str(data["type"]),
        district=str(data["district"]),
        commune=str(data["commune"]),
        staff=staff,
        bluezone_shown=shown,
        **shares,
    )


def _number(value: Any, kind: type[int] | type[float], where: str) -> Any:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise SiteError(f"{where} must be a number, got {value!r}") from exc
    if kind is int:
        if out != int(out):
            raise SiteError(f"{where} must be a whole number, got {value!r}")
        return int(out)
    return out


def parse_sites(path: Path) -> list[Site]:
    """Read sites from a registry YAML (`sites: [...]`) or a CSV with a header row."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SiteError(f"cannot read {path}: {exc.strerror}") from exc
    if path.suffix.lower() == ".csv":
        rows: Iterable[Mapping[str, Any]] = csv.DictReader(io.StringIO(text))
        entries = [site_from_mapping(r, f"{path}:{i + 2}") for i, r in enumerate(rows)]
    else:
        try:
            # The C loader reads a province of sites ~10x faster than the pure-Python one.
            data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise SiteError(f"{path}: not valid YAML: {exc}") from exc
        items = (data or {}).get("sites", []) if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise SiteError(f"{path}: expected a mapping with a 'sites' list")
        entries = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise SiteError(f"{path}: sites[{i}] is not a mapping")
            entries.append(site_from_mapping(item, f"{path}: sites[{i}]"))
    seen: set[str] = set()
    for s in entries:
        if s.id in seen:
            raise SiteError(f"{path}: site id {s.id!r} appears twice")
        seen.add(s.id)
    return entries


def load_registry(path: Path | None) -> Registry:
    """The registry at `path`; a missing file is an empty registry (every site unregistered)."""
    if path is None or not path.exists():
        return Registry({})
    return Registry({s.id: s for s in parse_sites(path)})


def merge(registry: Registry, new: Iterable[Site]) -> tuple[Registry, int, int]:
    """Registry with `new` added or replacing entries of the same id; (registry, added, updated)."""
    sites = dict(registry.sites)
    added = updated = 0
    for s in new:
        if s.id in sites:
            updated += sites[s.id] != s
        else:
            added += 1
        sites[s.id] = s
    return Registry(sites), added, updated


def save_registry(registry: Registry, path: Path) -> None:
    """Write the registry as YAML (UTF-8, diacritics kept), sorted by district then id."""
    items = sorted(registry.sites.values(), key=lambda s: (s.district, s.id))
    body = [{k: v for k, v in asdict(s).items() if v is not None} for s in items]
    text = yaml.safe_dump({"sites": body}, allow_unicode=True, sort_keys=False, width=100)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(_HEADER + text, encoding="utf-8")
    tmp.replace(path)
