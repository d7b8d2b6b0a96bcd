"""What the dashboard shows, as typed values: the pages render them and the JSON API returns them.

Fractions are in [0, 1] exactly as `bzagg report --format json` prints them (rounded there);
pages format them as percentages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The report's verdicts (aggregator.report.headline), as `bzagg report --format json` names them.
Status = Literal["at_target", "below_target", "cannot_tell", "no_data"]
Kind = Literal["province", "district", "site"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Figure(_Frozen):
    """One method's estimate with its 95 % interval (the report's `estimates` entries)."""

    method: str
    value: float | None = Field(None, ge=0, le=1)
    low: float | None = Field(None, ge=0, le=1)
    high: float | None = Field(None, ge=0, le=1)
    clusters: int = 0
    windows: int = 0
    reason: str | None = None
    suppressed: bool = Field(False, description="Fewer than k_min smartphone owners: hidden.")
    k_min: int | None = None


class Headline(_Frozen):
    """A row's headline: the report's pooled ratio over all site types, its method and verdict."""

    value: float | None = Field(None, ge=0, le=1)
    low: float | None = Field(None, ge=0, le=1)
    high: float | None = Field(None, ge=0, le=1)
    method: str | None = Field(None, description="headcount | ios_internal | mixed.")
    method_label: str | None = None
    visits: int = Field(0, description="Primary units pooled (the report's `visits`).")
    strata: int = 0
    variance: str | None = Field(None, description="design | model, whichever is wider.")
    df: int | None = None
    post_stratified: bool = False
    status: Status | None = Field(
        None, description="Against the target: at / below only when the interval says so."
    )
    more_visits: int | None = Field(None, description="More visits that would decide it.")
    suppressed: bool = Field(False, description="Fewer than k_min smartphone owners: hidden.")
    k_min: int | None = None


class RowView(_Frozen):
    """One report row (a district, a site, a visit or a day) with its headline figure."""

    keys: dict[str, str] = Field(description="The report's group keys of this row.")
    label: str = Field(description="What the row is, for people (site names beside ids).")
    href: str | None = Field(None, description="Dashboard page of this row, if it has one.")
    windows: int
    used: int
    excluded_clock: int
    excluded_coverage: int
    nodes: int
    registered: bool
    name: str | None = Field(None, description="The site's registry name (site rows).")
    headline: Headline
    estimates: dict[str, Figure] = Field(default_factory=dict)


class TrendView(_Frozen):
    status: str
    days: int
    slope_per_day: float | None = None
    fitted_last: float | None = None
    projected: str | None = Field(None, description="ISO date the trend reaches the target.")


class Tally(_Frozen):
    at: int
    below: int
    estimable: int


class PlanView(_Frozen):
    """One district of the report's visit plan: where more visits would decide the target."""

    district: str
    status: Status
    more_visits: int | None = None
    visit_type: str | None = Field(None, description="Site type to visit first.")
    visit_sites: list[str] = Field(default_factory=list, description="Its sites, fewest first.")
    visit_site_names: list[str] = Field(default_factory=list)


class TargetView(_Frozen):
    target: float = Field(ge=0, le=1)
    deadline: str | None = None
    sites: Tally
    districts: Tally
    trend: TrendView


class NodeCoverage(_Frozen):
    """A node's windows in the report period (the report's node table)."""

    node: str
    site: str
    windows: int
    excluded_clock: int
    excluded_coverage: int
    scanned_share: float | None = Field(None, ge=0, le=1)
    restarts: int
    first_start: int | None = None
    last_end: int | None = None
    mode: str | None = None


class ScopeView(_Frozen):
    """Everything one page shows: the province, one district or one site."""

    kind: Kind
    name: str = Field(description="District name or site id; '' for the province.")
    title: str
    version: int = Field(description="Store generation these figures were computed from.")
    computed_at: float = Field(description="UTC epoch seconds.")
    total: RowView
    rows: list[RowView] = Field(description="Districts (province), sites (district), ranked.")
    visits: list[RowView] = Field(default_factory=list)
    daily: list[RowView] = Field(default_factory=list)
    target: TargetView | None = None
    planning: list[PlanView] = Field(
        default_factory=list, description="The report's visit plan (needs a target)."
    )
    tz: str = Field("Asia/Ho_Chi_Minh", description="Time zone of days and hours.")
    k_min: int = Field(5, description="Small-cell rule: rows under this many owners hidden.")
    nodes: list[NodeCoverage] = Field(default_factory=list)
    unregistered_sites: list[str] = Field(default_factory=list)
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    commands: list[str] = Field(
        default_factory=list, description="`bzagg report` runs that print the same figures."
    )


class NodeView(_Frozen):
    node: str
    site: str
    site_name: str
    status: str = Field(description="online / offline (retained MQTT status) or unknown.")
    status_at: float | None = None
    first_seen: float | None = None
    last_seen: float | None = None
    last_window_end: int | None = None
    last_seq: int | None = None
    windows: int
    seq_gaps: int
    duplicates: int
    rejected: int
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    clock_synced: bool | None = Field(None, description="In the node's latest window.")
    problems: list[str] = Field(default_factory=list)


class NodesView(_Frozen):
    version: int
    computed_at: float
    nodes: list[NodeView] = Field(description="Nodes with problems first.")
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    rejected_unattributed: int = Field(0, description="Rejects whose topic names no node.")
