"""The inspector's live view shows the open window's counts as they grow."""

from __future__ import annotations

import io

from rich.console import Console

from scanner.node.liveview import LiveView
from scanner.node.run_live import LiveStatus


def test_live_view_renders_open_window_counts() -> None:
    view = LiveView(io.StringIO(), interactive=False)
    status = LiveStatus(t0=1597039200.0, duration_s=600.0, mode="active", adapter="hci0")
    status.now = status.t0 + 75
    status.open_counts = {"bluezone": {"android": 3, "ios_bg": 1}, "iphone": {"all": 7}}
    view.on_status(status)
    out = io.StringIO()
    Console(file=out, width=120).print(view._render())
    text = out.getvalue()
    assert "1:15 elapsed, 8:45 left" in text
    rows = {
        cells[1].strip(): [c.strip() for c in cells[2:-1]]
        for cells in (line.split("│") for line in text.splitlines())
        if len(cells) >= 4
    }
    # Open window so far, then the last closed window (none yet).
    assert rows["Bluezone Android"] == ["3", "-"]
    assert rows["Bluezone iOS (background)"] == ["1", "-"]
    assert rows["iPhones"] == ["7", "-"]
    assert rows["other phones"] == ["0", "-"]
