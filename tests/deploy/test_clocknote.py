"""The clock message says what happens to the windows and how to fix it, everywhere it is shown."""

from __future__ import annotations

import io

from scanner.estimation.params import DEFAULT_PARAMS
from scanner.node.clocknote import clock_note
from scanner.node.liveview import LiveView
from scanner.node.run_live import LiveStatus


def test_unsynced_clock_says_excluded_and_the_fix() -> None:
    note = clock_note(False)
    assert note is not None
    assert "excluded from the estimates" in note and "flagged" not in note
    assert "timedatectl set-ntp true" in note and "chrony" in note
    assert clock_note(True) is None
    unknown = clock_note(None)
    assert unknown is not None and "kept" in unknown


def test_when_the_estimator_keeps_them_it_says_so() -> None:
    keep = DEFAULT_PARAMS.override("test", require_clock_sync=0.0)
    note = clock_note(False, keep)
    assert note is not None and "kept in the estimates, flagged" in note


def test_live_view_title_warns_while_unsynced() -> None:
    out = io.StringIO()
    view = LiveView(out, interactive=True)
    view.clock_synced = False
    with view:
        view.on_status(LiveStatus(0.0, 600.0, "active", "hci0"))
    assert "CLOCK NOT SYNCED: windows excluded" in out.getvalue()
    out = io.StringIO()
    view = LiveView(out, interactive=True)
    with view:
        view.on_status(LiveStatus(0.0, 600.0, "active", "hci0"))
    assert "CLOCK" not in out.getvalue()
