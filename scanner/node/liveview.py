"""The inspector's live view (rich): time left, counts per category, Bluezone / phones so far."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from scanner.node.output import WindowPrinter
from scanner.node.run_live import LiveStatus
from scanner.wire.schema import WindowReport, iso_utc

_CATEGORIES = (
    ("Bluezone Android", "bluezone", "android"),
    ("Bluezone iOS (foreground)", "bluezone", "ios_fg"),
    ("Bluezone iOS (background)", "bluezone", "ios_bg"),
    ("iPhones", "iphone", None),
    ("other phones", "phone", None),
    ("other devices", "other", None),
)


def phones(r: WindowReport) -> int:
    # iOS Bluezone phones already count as iPhones (docs/architecture.md §4); Android Bluezone
    # phones do not
    # appear in any other phone category, so they are added once.
    return r.count("iphone") + r.count("phone") + r.count("bluezone", "android")


class RunningRatio:
    """Bluezone / phones over all windows so far (sums, so busy windows weigh more)."""

    def __init__(self) -> None:
        self.bluezone = 0
        self.phones = 0
        self.windows = 0

    def add(self, r: WindowReport) -> None:
        self.bluezone += r.count("bluezone")
        self.phones += phones(r)
        self.windows += 1

    def text(self) -> str:
        if self.phones == 0:
            return "- (no phones seen yet)"
        ratio = self.bluezone / self.phones
        return f"{ratio:.0%} ({self.bluezone} / {self.phones}, {self.windows} windows)"


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:d}:{s % 60:02d}"


class LiveView:
    """Window sink and status hook; a rich panel on a terminal, one line per window otherwise."""

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        as_json: bool = False,
        interactive: bool | None = None,
        keep_reports: bool = True,
    ) -> None:
        self.out = out or sys.stdout
        self.interactive = (
            (self.out.isatty() and not as_json) if interactive is None else interactive
        )
        self.ratio = RunningRatio()
        # An inspector's visit keeps its windows for the end-of-visit estimate; a fixed node that
        # runs for weeks keeps none, so its memory stays flat.
        self._keep = keep_reports
        self.reports: list[WindowReport] = []
        self.last: WindowReport | None = None
        self.status: LiveStatus | None = None
        self._printer = None if self.interactive else WindowPrinter(self.out, as_json=as_json)
        self._live: Any = None

    def __enter__(self) -> LiveView:
        if self.interactive:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self._render(),
                console=Console(file=self.out),
                refresh_per_second=2,
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None

    def window(self, report: WindowReport) -> None:
        if self._keep:
            self.reports.append(report)
        self.ratio.add(report)
        self.last = report
        if self._printer is not None:
            self._printer(report)
        elif self._live is not None:
            self._live.update(self._render())

    def on_status(self, status: LiveStatus) -> None:
        self.status = status
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.table import Table

        st = self.status
        title = "bzscan live"
        if st is not None:
            elapsed = st.now - st.t0
            left = "" if st.duration_s is None else f", {_clock(st.duration_s - elapsed)} left"
            state = "scanning" if st.scanning else "NOT scanning"
            title = (
                f"bzscan {st.mode} on {st.adapter or 'default adapter'}: {_clock(elapsed)} elapsed"
                f"{left}; {state}; {st.adverts} adverts; {st.restarts} restarts"
            )
        table = Table(title=title, title_justify="left")
        table.add_column("category")
        table.add_column("this window so far", justify="right")
        label = "last window" if self.last is None else f"window {iso_utc(self.last.window_start)}"
        table.add_column(label, justify="right")
        current = {} if st is None else st.open_counts
        for text, cat, stratum in _CATEGORIES:
            strata = current.get(cat, {})
            now_n = sum(strata.values()) if stratum is None else strata.get(stratum, 0)
            n = "-" if self.last is None else str(self.last.count(cat, stratum))
            table.add_row(text, str(now_n) if current else "-", n)
        table.add_row("Bluezone / phones so far", "", self.ratio.text())
        return table

    def summary_lines(self, headcount: int | None) -> list[str]:
        """The end-of-visit summary: windows, devices, estimates with intervals."""
        from scanner.estimation.estimate import visit_summary

        if not self._keep:
            return [
                f"node: {self.ratio.windows} windows; Bluezone / phones (BLE) {self.ratio.text()}"
            ]
        lines = [f"visit: {len(self.reports)} windows; Bluezone / phones (BLE) {self.ratio.text()}"]
        if self.reports:
            lines.extend(visit_summary(self.reports, headcount=headcount).lines())
        return lines
