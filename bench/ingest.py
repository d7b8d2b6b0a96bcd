"""Drain of a queued backlog from Mosquitto into the store, against `mosquitto_sub` on the same one.

    .venv/bin/python bench/ingest.py [--windows 50000] [--nodes 500] [--batch-max 1000]
        [--store sqlite|postgresql] [--aggregators 1|2] [--workers 1|2] [--serve-args "..."]
        [--inflight 1000]
        [--live 5000 --rate 1000] [--stages] [--profile DIR]

A Mosquitto on a free loopback port (tests/mosquitto.py) holds persistent sessions, all offline,
while publishers queue N unsigned QoS 1 windows from `--nodes` nodes: one session for
`mosquitto_sub -q 1 > /dev/null` (the baseline: the broker's speed with nothing done per
message) and one per `bzagg serve` (with `--aggregators 2`, one shared subscription
`$share/bench/...`), storing into SQLite WAL or a PostgreSQL started here (tests/postgres.py,
fsync on). Then each drains the backlog, one after the other so neither steals the other's CPU:
first `mosquitto_sub`, then the aggregators, timed from their start to the commit of the last
window (the greatest `received_at`, stamped in each batch transaction). It checks every window
is stored exactly once: rows == N, the set of (node, window_start) is the set published, and the
aggregators' own counters (stored, duplicates, rejected) add up. Then `--live` windows are
published at `--rate` while they run, for publish -> commit latency.

`--stages` also times decode + validation and the store write per window, apart, in this
process; `--profile DIR` runs the aggregators under py-spy (`pip install py-spy`) and prints
where their CPU went (with `--live 0`, the drain alone).
Targets: >= 15,000 windows/s draining a backlog (a national hour: 600,000 windows in 40 s),
p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402

from aggregator.store import open_store  # noqa: E402
from bench import ingest_load as load  # noqa: E402
from tests.mosquitto import Mosquitto, require  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402

TARGET = 15_000


async def publish_paced(port: int, msgs: load.Msgs, rate: float) -> dict[tuple[str, int], float]:
    """QoS 1 at `rate` windows/s in chunks of 50; returns when each was sent."""
    sent: dict[tuple[str, int], float] = {}
    t0 = time.monotonic()
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=500, timeout=60) as c:
        c.pending_calls_threshold = 10_000
        for i in range(0, len(msgs), 50):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            chunk = msgs[i : i + 50]
            now = time.time()
            for _, _, key in chunk:
                sent[key] = now
            await asyncio.gather(*(c.publish(t, p, qos=1) for t, p, _ in chunk))
    return sent


def baseline_sub(port: int, n: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [require("mosquitto_sub"), "-p", str(port), "-q", "1", "-c", "-i", "baseline",
         "-t", "bzaudit/v1/+/+/window", "-C", str(n)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def wait_rows(db: str, n: int, timeout: float = 1200) -> None:
    """Until the store holds N windows; polled twice a second (a COUNT costs the writers)."""
    store = open_store(db)
    try:
        deadline = time.time() + timeout
        while store.windows_count() < n:
            if time.time() > deadline:
                raise SystemExit(f"only {store.windows_count():,} of {n:,} windows stored")
            time.sleep(0.5)
    finally:
        store.close()


def stages(db_kind: str, pg: object, work: Path, msgs: load.Msgs) -> list[str]:
    """Per-window cost of decode + validation and of the store write, measured apart."""
    from aggregator.ingest.subscribe import judge

    sample = msgs[: min(len(msgs), 20_000)]
    t_judge = float("inf")
    for _ in range(3):  # the best of three: the machine is shared
        t = time.perf_counter()
        reports = [judge(topic, p, now=2e9, keys=None).window for topic, p, _ in sample]
        t_judge = min(t_judge, (time.perf_counter() - t) / len(sample))
    db = pg.new_database() if db_kind == "postgresql" else str(work / "stages.sqlite3")  # type: ignore[attr-defined]
    store = open_store(db)
    texts = [p.decode() for _, p, _ in sample]
    t = time.perf_counter()
    for i in range(0, len(sample), 1000):
        store.add_windows([r for r in reports[i : i + 1000] if r], (), (), texts[i : i + 1000])
    t_store = (time.perf_counter() - t) / len(sample)
    store.close()
    return [
        f"stages           decode + validation {t_judge * 1e6:.1f} us/window, "
        f"{db_kind} batch write {t_store * 1e6:.1f} us/window (1000 a batch, this process)"
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=50_000)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--batch-max", type=int, default=1000)
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--aggregators", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="`bzagg serve --workers` of each")
    ap.add_argument("--serve-args", default="", help="more `bzagg serve` options, quoted")
    ap.add_argument("--inflight", type=int, default=1000,
                    help="the broker's max_inflight_messages (100 in deploy/server)")  # fmt: skip
    ap.add_argument("--live", type=int, default=5000, help="windows of the latency phase")
    ap.add_argument("--rate", type=float, default=1000.0,
                    help="windows/s offered in the latency phase (a country: ~170/s)")  # fmt: skip
    ap.add_argument("--stages", action="store_true", help="time decode and store write apart")
    ap.add_argument("--profile", type=Path, default=None, help="py-spy the aggregators into DIR")
    args = ap.parse_args()
    n = args.windows
    t_gen = time.monotonic()
    backlog = load.windows(0, n, args.nodes)
    live = load.windows(n, args.live, args.nodes)
    t_gen = time.monotonic() - t_gen
    size = sum(len(p) for _, p, _ in backlog) / n
    names = [f"bzagg-{i}" for i in range(args.aggregators)]
    share = ["--share-group", "bench"] if args.aggregators > 1 else []
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "mqtt")
        # The production autosave (deploy/server/mosquitto.conf), not the tests' 1 s: saving
        # the whole queue every second stalls the broker at hundreds of thousands of windows.
        broker.conf.write_text(broker.conf.read_text().replace(
            "max_inflight_messages 100", f"max_inflight_messages {args.inflight}"
        ).replace("autosave_interval 1\n", "autosave_interval 60\n"))  # fmt: skip
        broker.start()
        pg = start_postgres(durable=True) if args.store == "postgresql" else None
        db = pg.new_database() if pg is not None else str(work / "store.sqlite3")
        argv = ["--broker", f"mqtt://127.0.0.1:{broker.port}", "--db", db, "--batch-max",
                str(args.batch_max), "--workers", str(args.workers), *share,
                *shlex.split(args.serve_args)]  # fmt: skip
        aggs = []
        try:
            # Every persistent session exists, offline, before the first window is published.
            for name in names:
                load.stop_agg(load.start_agg(work, argv, name, None, args.workers))
            sub = baseline_sub(broker.port, 1)
            time.sleep(0.5)  # registers its session
            sub.terminate()
            sub.wait(10)
            pub_rate = load.publish_backlog(broker.port, backlog)
            time.sleep(1.0)  # let the broker settle
            t0 = time.time()
            baseline_sub(broker.port, n).wait(1200)
            t_sub = time.time() - t0
            mark = {x: (work / f"{x}.err").read_text() for x in names}
            t0 = time.time()
            aggs = [load.start_agg(work, argv, x, args.profile, args.workers) for x in names]
            t_up = time.time() - t0
            wait_rows(db, n)
            store = open_store(db)
            rows = store.windows()
            t_agg = max(w.received_at for w in rows) - t0
            keys = {(w.node, w.window_start) for w in rows}
            expected = {k for _, _, k in backlog}
            rejected = len(store.rejects())
            store.close()
            # Latency: windows published live while the aggregators run.
            sent = asyncio.run(publish_paced(broker.port, live, args.rate)) if live else {}
            wait_rows(db, n + len(live))
            for agg in aggs:
                load.stop_agg(agg)
            aggs = []
            got = [load.summaries((work / f"{x}.err").read_text()[len(mark[x]) :]) for x in names]
            store = open_store(db)
            lat = sorted(
                w.received_at - sent[(w.node, w.window_start)]
                for w in store.windows()
                if (w.node, w.window_start) in sent
            )
            total_rows = store.windows_count()
            store.close()
            if args.stages:
                out += stages(args.store, pg, work, backlog)
        finally:
            for agg in aggs:
                load.stop_agg(agg)
            broker.stop()
            if pg is not None:
                pg.stop()
                shutil.rmtree(pg.root, ignore_errors=True)
    received, stored, dups, rej = (sum(g[i] for g in got) for i in range(4))
    exact = (
        len(rows) == n and keys == expected and total_rows == n + len(live)
        and stored == n + len(live) and received == stored + dups + rej and rejected == 0
    )  # fmt: skip
    rate_agg, rate_sub = n / t_agg, n / t_sub
    what = f"{args.aggregators} x bzagg serve" + (" (shared subscription)" if share else "")
    what += f" --workers {args.workers}" if args.workers > 1 else ""
    extra = f" {args.serve_args}" if args.serve_args else ""
    print(f"windows          {n:,} queued ({size:.0f} B, QoS 1, {args.nodes} nodes, made in "
          f"{t_gen:.0f} s, published at {pub_rate:,.0f}/s), broker inflight {args.inflight}, "
          f"batch-max {args.batch_max}{extra}")  # fmt: skip
    print(f"mosquitto_sub    {rate_sub:,.0f} windows/s to /dev/null ({t_sub:.2f} s)  [baseline]")
    print(f"{what:<16} {rate_agg:,.0f} windows/s into {args.store} ({t_agg:.2f} s from start, "
          f"{t_up:.2f} s of it starting up and subscribing)")  # fmt: skip
    print(f"ratio            {rate_agg / rate_sub:.2f} of the baseline (each drained alone)")
    print(f"exactly once     {'yes' if exact else 'NO'}: expected {n:,} + {len(live):,} live, "
          f"stored rows {total_rows:,}, aggregators: received {received:,}, stored {stored:,}, "
          f"duplicates {dups:,}, rejected {rej:,} (store: {rejected})")  # fmt: skip
    if lat:
        p50, p99, worst = (x * 1000 for x in (lat[len(lat) // 2], lat[int(len(lat) * 0.99)],
                                              lat[-1]))  # fmt: skip
        print(f"latency          {len(lat):,} live windows at {args.rate:,.0f}/s: p50 {p50:.0f} ms,"
              f" p99 {p99:.0f} ms, max {worst:.0f} ms (publish -> row committed)")  # fmt: skip
    for line in out:
        print(line)
    if args.profile:
        for name in names:
            print("\n".join(load.profile_summary(args.profile / f"{name}.txt")))
    ok = rate_agg >= TARGET and exact and (not lat or lat[int(len(lat) * 0.99)] < 1.0)
    print(f"targets          >= {TARGET:,} windows/s, exactly once, p99 < 1 s: "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
