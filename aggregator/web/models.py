"""What the dashboard shows, as typed values: the pages render them and the JSON API returns them.

Fractions are in [0, 1] exactly as `bzagg report --format json` prints them (rounded there);
pages format them as percentages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["at", "below", "cannot_tell"]
Kind = Literal["province", "district", "site"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Figure(_Frozen):
    """One estimate with its 95 % interval, as in the report's `estimates` entries."""

    method: str
    value: float | None = Field(None, ge=0, le=1)
    low: float | None = Field(None, ge=0, le=1)
    high: float | None = Field(None, ge=0, le=1)
    clusters: int = 0
    windows: int = 0
    reason: str | None = None


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
    headline: Figure | None = Field(None, description="The preferred estimate, method named.")
    status: Status | None = Field(
        None, description="Against the target: at / below only when the interval says so."
    )
    visits_needed: int | None = Field(None, description="More visits that would decide it.")
    estimates: dict[str, Figure] = Field(default_factory=dict)


class TrendView(_Frozen):
    status: str
    days: int
    slope_per_day: float | None = None
    fitted_last: float | None = None
    projected: str | None = Field(None, description="ISO date the trend reaches the target.")


class Tally(_Frozen):
    at: int
    confirmed: int
    estimable: int


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
    planning: list[dict[str, Any]] | None = Field(
        None, description="Where more visits would decide the target (when the report has it)."
    )
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
