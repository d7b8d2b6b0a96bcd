"""One factory for WindowReports in estimator tests (overrides per test)."""

from __future__ import annotations

from scanner.wire.schema import Health, WindowReport

T0 = 1_597_600_800  # 2020-08-16T18:00:00Z, a UTC quarter-hour boundary


def window(
    i: int = 0,
    *,
    android: int = 0,
    slot_android: int | None = None,
    ios_fg: int = 0,
    ios_bg: int = 0,
    iphone: int = 0,
    phone: int = 0,
    headcount: int | None = None,
    scanned_s: float = 60.0,
    clock_synced: bool | None = True,
    site: str = "s1",
    node: str = "n1",
    window_s: int = 60,
    start: int = T0,
) -> WindowReport:
    slot = {} if slot_android is None else {"bluezone": {"android": slot_android}}
    return WindowReport(
        node=node,
        site=site,
        seq=i,
        window_start=start + i * window_s,
        window_s=window_s,
        counts={
            "bluezone": {"android": android, "ios_fg": ios_fg, "ios_bg": ios_bg},
            "iphone": {"all": iphone},
            "phone": {"en": phone},
            "other": {"all": 0},
        },
        slot_counts=slot,
        health=Health(scanned_s=scanned_s, adverts=10, mode="replay", clock_synced=clock_synced),
        headcount=headcount,
    )
