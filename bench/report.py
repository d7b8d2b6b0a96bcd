"""Report time and peak RSS over a store of 10 million windows (500 nodes x 2 weeks x 1/min).

    .venv/bin/python bench/report.py [--nodes 500] [--days 14] [--rebuild]

Builds bench/.cache/report-<nodes>x<days>.sqlite3 once (synthetic rows bulk-inserted through the
store's own API, so the rollup triggers run as in production; the payload column holds "{}"
instead of the canonical JSON to keep the file small), then times
`bzagg report --by district,day` in a fresh process and reads its peak RSS. Side by side it times
the same process doing only its imports (baseline) and the report on the full-scan SQL path
(`--no-rollup`, slot-count estimator) so the figures can be compared. Targets: < 5 s, < 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache"
DAY0 = 1_596_758_400  # 2020-08-07T00:00:00Z
DISTRICTS = ("Phan Rang–Tháp Chàm", "Ninh Hải", "Ninh Phước", "Thuận Bắc", "Bác Ái", "Ninh Sơn",
             "Thuận Nam")  # fmt: skip
TYPES = ("office", "market", "counter")


def sites_yaml(nodes: int) -> str:
    lines = ["sites:"]
    for i in range(nodes):
        d = DISTRICTS[i % len(DISTRICTS)]
        lines += [f"  - id: bench-site-{i:04d}", f"    name: Điểm {i}", f"    type: {TYPES[i % 3]}",
                  f"    district: {d}", f"    commune: Xã {i % 40}"]  # fmt: skip
        if i % 3 == 0:
            lines.append(f"    staff: {20 + i % 80}")
    return "\n".join(lines) + "\n"


def rows(nodes: int, days: int, seed: int = 5) -> Iterator[tuple[object, ...]]:
    """One synthetic window per node per minute, as flat rows in the store's column order."""
    rng = random.Random(seed)
    for n in range(nodes):
        node, site = f"bench-node-{n:04d}", f"bench-site-{n:04d}"
        level = rng.uniform(0.05, 0.6)
        head = n % 3 == 0
        for m in range(days * 1440):
            t = DAY0 + 60 * m
            people = 5 + (m // 60 % 24 in range(1, 11)) * 30
            bz = int(people * 0.7 * level * rng.random() * 2)
            yield (
                node, site, t, 60, m, t + 61.0, bz, bz // 8, bz // 5, bz + 1, people // 4, 1, 3,
                people if head else None, 60.0 if m % 97 else 20.0, 900,
                0 if m % 211 == 0 else 1, "passive", 0, 2, "{}",
            )  # fmt: skip


def build(path: Path, nodes: int, days: int) -> None:
    from aggregator.store.sqlite import Store

    t0 = time.perf_counter()
    path.unlink(missing_ok=True)
    store = Store(path)  # creates the rollup and its triggers
    store.bulk_insert_rows(rows(nodes, days))
    store.close()
    print(f"built {path.name}: {nodes * days * 1440:,} windows in {time.perf_counter() - t0:.0f} s")


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one child process (its own rusage, via wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited with {proc.returncode}")
    return dt, usage.ru_maxrss / 1024, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--full-scan", action="store_true", help="also time the no-rollup path")
    args = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"report-{args.nodes}x{args.days}.sqlite3"
    sites = CACHE / f"sites-{args.nodes}.yaml"
    sites.write_text(sites_yaml(args.nodes), encoding="utf-8")
    if args.rebuild or not db.exists():
        build(db, args.nodes, args.days)
    py = sys.executable
    base = [py, "-c", "import aggregator.cli.report, aggregator.report.tables, pandas, matplotlib"]
    cmd = [py, "-m", "aggregator.cli.report", "--db", str(db), "--sites-file", str(sites),
           "--by", "district,day", "--target", "0.5", "--deadline", "2020-08-20"]  # fmt: skip
    html = [*cmd, "--format", "html", "--out", str(CACHE / "report.html")]
    b_dt, b_rss, _ = timed(base)
    r_dt, r_rss, out = timed(cmd)
    r2_dt, r2_rss, _ = timed(cmd)
    h_dt, h_rss, _ = timed(html)
    lines = out.splitlines()
    print(f"store: {db.stat().st_size / 1e9:.2f} GB, {args.nodes * args.days * 1440:,} windows")
    print(f"baseline (imports only): {b_dt:.2f} s, peak RSS {b_rss:.0f} MB")
    print(f"report --by district,day: {r_dt:.2f} s (again: {r2_dt:.2f} s), peak RSS "
          f"{max(r_rss, r2_rss):.0f} MB; {len(lines)} lines of output")  # fmt: skip
    print(f"report --format html (charts, pandas/matplotlib loaded): {h_dt:.2f} s, "
          f"peak RSS {h_rss:.0f} MB")  # fmt: skip
    met = max(r_dt, r2_dt, h_dt) < 5 and max(r_rss, r2_rss, h_rss) < 1500
    print(f"target < 5 s and < 1500 MB: {'MET' if met else 'NOT MET'}")
    if args.full_scan:
        params = CACHE / "slot-params.yaml"
        params.write_text("android_slot_counts: 1\n", encoding="utf-8")
        f_dt, f_rss, _ = timed([*cmd, "--params", str(params)])
        print(f"full-scan path (slot counts, no rollup): {f_dt:.2f} s, peak RSS {f_rss:.0f} MB")
    print("\n".join(lines[:14]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
