"""Sustained windows/second from Mosquitto into the store, against `mosquitto_sub` side by side.

    .venv/bin/python bench/ingest.py [--windows 50000] [--nodes 500] [--batch-max 1000]
        [--store sqlite|postgresql] [--aggregators 1|2] [--inflight 1000]

Starts a Mosquitto on a free loopback port (tests/mosquitto.py), then subscribers with
persistent sessions: `bzagg serve` (real processes: validate, store, acknowledge after commit;
with `--aggregators 2` on one shared subscription `$share/bench/...`), into SQLite WAL or a
PostgreSQL started here (tests/postgres.py, fsync on), and `mosquitto_sub -q 1 > /dev/null`
(the baseline: the broker's and the network's speed with nothing done per message). One
publisher sends N unsigned QoS 1 windows from `--nodes` nodes as fast as the broker takes them.
Prints each subscriber's sustained rate, the ratio, whether anything was lost, and p50/p99
publish -> committed latency (`received_at` of the row, stamped in the batch transaction, minus
the time the publish began). Targets: >= 15,000 windows/s draining a backlog (a national hour:
600,000 windows in 40 s), p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
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
from scanner.wire.codec import encode  # noqa: E402
from scanner.wire.schema import Health, WindowReport  # noqa: E402
from scanner.wire.topics import window_topic  # noqa: E402
from tests.mosquitto import Mosquitto, require  # noqa: E402
from tests.postgres import start_postgres  # noqa: E402

BIN = Path(sys.executable).parent
T0 = 1_700_000_100


def windows(n: int, nodes: int) -> list[tuple[str, bytes, tuple[str, int]]]:
    out = []
    for i in range(n):
        node, k = f"node-{i % nodes:04d}", i // nodes
        r = WindowReport(
            node=node, site=f"site-{i % nodes // 4:03d}", seq=k, window_start=T0 + 60 * k,
            window_s=60, counts={"bluezone": {"android": i % 7, "ios_fg": 1, "ios_bg": 2},
                                 "iphone": {"all": 5}, "phone": {"samsung": 3}},
            slot_counts={"bluezone": {"android": i % 9}},
            health=Health(scanned_s=59.5, adverts=900 + i % 50, mode="passive",
                          clock_synced=True),
        )  # fmt: skip
        out.append((window_topic(r.site, r.node), encode(r), (node, r.window_start)))
    return out


Msgs = list[tuple[str, bytes, tuple[str, int]]]


async def publish(port: int, msgs: Msgs, rate: float | None = None) -> dict[tuple[str, int], float]:
    """QoS 1 as fast as the broker takes it, or paced at `rate` windows/s in chunks of 50."""
    sent: dict[tuple[str, int], float] = {}
    step = 50 if rate else 500
    t0 = time.monotonic()
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=500, timeout=60) as c:
        c.pending_calls_threshold = 10_000
        for i in range(0, len(msgs), step):
            if rate:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            chunk = msgs[i : i + step]
            now = time.time()
            for _, _, key in chunk:
                sent[key] = now
            await asyncio.gather(*(c.publish(t, p, qos=1) for t, p, _ in chunk))
    return sent


def count(db: str) -> int:
    try:
        store = open_store(db)
    except Exception:  # the first aggregator may still be creating the schema
        return 0
    try:
        return store.windows_count()
    finally:
        store.close()


def start_agg(
    work: Path, port: int, db: str, batch_max: int, name: str, share: bool
) -> subprocess.Popen[bytes]:
    err = work / f"{name}.err"
    before = err.read_text().count("subscribed") if err.exists() else 0
    group = ["--share-group", "bench"] if share else []
    p = subprocess.Popen(
        [str(BIN / "bzagg"), "serve", "--broker", f"mqtt://127.0.0.1:{port}",
         "--db", db, "--batch-max", str(batch_max), "--client-id", name, *group],
        stderr=err.open("ab"), cwd=work,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while err.read_text().count("subscribed") <= before:
        if time.monotonic() > deadline or p.poll() is not None:
            raise SystemExit("bzagg serve did not subscribe:\n" + err.read_text())
        time.sleep(0.02)
    return p


def baseline_sub(port: int, n: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [require("mosquitto_sub"), "-p", str(port), "-q", "1", "-c", "-i", "baseline",
         "-t", "bzaudit/v1/+/+/window", "-C", str(n)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def wait_count(db: str, n: int, t0: float) -> float:
    while count(db) < n and time.time() - t0 < 600:
        time.sleep(0.01)
    return time.time() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=50_000)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--batch-max", type=int, default=1000)
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--aggregators", type=int, default=1)
    ap.add_argument("--inflight", type=int, default=1000,
                    help="the broker's max_inflight_messages (100 in deploy/server)")  # fmt: skip
    ap.add_argument("--rate", type=float, default=1000.0,
                    help="windows/s offered in the latency phase (a country: ~600/s)")  # fmt: skip
    args = ap.parse_args()
    n = args.windows
    backlog, live = windows(2 * n, args.nodes)[:n], windows(2 * n, args.nodes)[n:]
    size = sum(len(p) for _, p, _ in backlog) / n
    names = [f"bzagg-{i}" for i in range(args.aggregators)]
    share = args.aggregators > 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "mqtt")
        broker.conf.write_text(broker.conf.read_text().replace(
            "max_inflight_messages 100", f"max_inflight_messages {args.inflight}"
        ))  # fmt: skip
        broker.start()
        pg = start_postgres(durable=True) if args.store == "postgresql" else None
        db = pg.new_database() if pg is not None else str(work / "store.sqlite3")
        aggs: list[subprocess.Popen[bytes]] = []
        try:
            # Phase 1, throughput: every persistent session exists but is offline while the
            # broker queues N windows; then all subscribers start at once and drain them.
            for name in names:
                agg = start_agg(work, broker.port, db, args.batch_max, name, share)
                agg.terminate()
                agg.wait(30)
            sub = baseline_sub(broker.port, 1)
            time.sleep(0.5)  # registers its session
            sub.terminate()
            sub.wait(10)
            asyncio.run(publish(broker.port, backlog))
            t0 = time.time()
            sub = baseline_sub(broker.port, n)
            aggs = [start_agg(work, broker.port, db, args.batch_max, x, share) for x in names]
            sub.wait(600)
            t_sub = time.time() - t0
            t_agg = wait_count(db, n, t0)
            # Phase 2, latency: windows published live while the aggregators run.
            t1 = time.time()
            sent = asyncio.run(publish(broker.port, live, args.rate))
            t_pub = time.time() - t1
            wait_count(db, 2 * n, t1)
            store = open_store(db)
            stored = store.windows_count()
            lat = sorted(
                w.received_at - sent[(w.node, w.window_start)]
                for w in store.windows()
                if (w.node, w.window_start) in sent
            )
            rejected = len(store.rejects())
            store.close()
        finally:
            for agg in aggs:
                agg.terminate()
                agg.wait(30)
            broker.stop()
            if pg is not None:
                pg.stop()
                shutil.rmtree(pg.root, ignore_errors=True)
    rate_agg, rate_sub = n / t_agg, n / t_sub
    p99 = lat[int(len(lat) * 0.99)] if lat else float("inf")
    lost = "nothing lost" if stored == 2 * n else "LOST SOME"
    what = f"{args.aggregators} x bzagg serve" + (" (shared subscription)" if share else "")
    print(f"windows          {n:,} queued + {n:,} live, {args.nodes} nodes, {size:.0f} B, QoS 1, "
          f"broker inflight {args.inflight}, batch-max {args.batch_max}")  # fmt: skip
    print(f"mosquitto_sub    {rate_sub:,.0f} windows/s to /dev/null ({t_sub:.2f} s)  [baseline]")
    print(f"{what:<16} {rate_agg:,.0f} windows/s into {args.store} ({t_agg:.2f} s)")
    print(f"ratio            {rate_agg / rate_sub:.2f} of the baseline (drained side by side)")
    print(f"stored           {stored:,} of {2 * n:,} ({lost}), {rejected} rejected")
    print(f"live phase       {n / t_pub:,.0f} windows/s offered (--rate {args.rate:,.0f})")
    if lat:
        p50, worst = lat[len(lat) // 2] * 1000, lat[-1] * 1000
        print(f"latency          p50 {p50:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst:.0f} ms "
              "(publish begun -> row committed)")  # fmt: skip
    ok = rate_agg >= 15_000 and p99 < 1.0 and stored == 2 * n
    print(f"targets          >= 15,000 windows/s and p99 < 1 s: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
