"""A deterministic store for report tests: sites in three districts plus one unregistered site."""

from __future__ import annotations

import random
from collections.abc import Iterator

from scanner.wire.schema import Health, WindowReport

DAY0 = 1_597_017_600  # 2020-08-10T00:00:00Z
# (site, node, day offsets, windows per visit, mean Bluezone Android, iPhones, head count)
VISITS = [
    ("ptc-ubnd-tinh", "lap-01", (0, 1, 2), 20, 30, 20, 110),
    ("ptc-market-01", "pi-ptc-01", (0, 1, 2), 30, 6, 9, None),
    ("nh-ubnd", "lap-02", (0, 2), 15, 12, 6, 55),
    ("nh-market-khanh-hai", "pi-nh-01", (1, 2), 30, 4, 7, None),
    ("ba-ubnd", "lap-03", (1,), 15, 5, 2, 30),
    ("zz-unknown-site", "pi-zz-01", (0, 1), 10, 2, 3, None),
]


def seeded_reports(seed: int = 6001) -> Iterator[WindowReport]:
    """Windows of 60 s from 01:00 UTC (08:00 in Vietnam); some with poor coverage or bad clocks."""
    rng = random.Random(seed)
    seq: dict[str, int] = {}
    for site, node, days, n, android, iphones, head in VISITS:
        for day in days:
            start = DAY0 + day * 86_400 + 3_600
            slot_seen = 0
            growth = 0.02 * day  # adoption rises day by day, for the trend
            for i in range(n):
                t = start + 60 * i
                if t % 900 == 0:
                    slot_seen = 0
                a = max(0, round(rng.gauss(android * (1 + growth) * 0.6, 1.5)))
                slot_seen = max(slot_seen, a + rng.randint(0, 2))
                iph = max(0, round(rng.gauss(iphones, 1.0)))
                bg = min(iph, rng.randint(0, max(1, iph // 3)))
                scanned = 60.0 if rng.random() > 0.08 else 20.0
                synced: bool | None = rng.random() > 0.04 if node.startswith("pi") else None
                seq[node] = seq.get(node, -1) + 1
                yield WindowReport(
                    node=node, site=site, seq=seq[node], window_start=t, window_s=60,
                    counts={
                        "bluezone": {"android": a, "ios_fg": rng.randint(0, 1), "ios_bg": bg},
                        "iphone": {"all": iph},
                        "phone": {"en": 0, "samsung": rng.randint(0, 3)},
                        "other": {"all": rng.randint(0, 5)},
                    },
                    slot_counts={"bluezone": {"android": slot_seen}},
                    health=Health(scanned_s=scanned, adverts=500 + i, mode="passive",
                                  clock_synced=synced),
                    software="bluezone-audit/0.1.0",
                    headcount=head,
                )  # fmt: skip
