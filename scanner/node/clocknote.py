"""What an unsynchronised clock does to the windows and how to fix it."""

from __future__ import annotations

from typing import Final

from scanner.estimation.params import DEFAULT_PARAMS, EstimationParams

FIX: Final = (
    "fix: sudo timedatectl set-ntp true (systemd-timesyncd), or install chrony; "
    "check with: timedatectl status"
)


def windows_fate(params: EstimationParams = DEFAULT_PARAMS) -> str:
    """What the estimator does with clock_synced=false windows (`require_clock_sync`)."""
    if params.require_clock_sync.value >= 0.5:
        return "excluded from the estimates"
    return "kept in the estimates, flagged"


def clock_note(synced: bool | None, params: EstimationParams = DEFAULT_PARAMS) -> str | None:
    """One line for the inspector, or None when the clock is synchronised.

    Windows are aligned to UTC quarter hours (docs/architecture.md §5): with a wrong clock the
    Bluezone slot alignment is meaningless, so the estimator excludes them when
    `require_clock_sync` is set (scanner/estimation/params.py).
    """
    if synced:
        return None
    if synced is None:
        return (
            "clock synchronisation unknown: windows carry clock_synced=null and are kept; "
            f"make sure the clock is right ({FIX})"
        )
    return (
        "clock NOT synchronised (NTP): every window is marked clock_synced=false and will be "
        f"{windows_fate(params)}; {FIX}"
    )


def short_note(synced: bool | None) -> str:
    """A few words for the live view's title line."""
    if synced:
        return "clock synced"
    if synced is None:
        return "clock sync unknown"
    return "CLOCK NOT SYNCED: windows " + windows_fate().replace(" from the estimates", "")
