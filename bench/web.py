"""Dashboard latency (p50/p99) for pages and the JSON API, 20 concurrent clients, 10 M windows.

    .venv/bin/python bench/web.py [--nodes 500] [--days 14] [--clients 20] [--seconds 20]

Uses the store bench/report.py builds (bench/.cache/report-<nodes>x<days>.sqlite3, built here
once if missing), starts `bzagg web` on a free loopback port as a user would, logs in, computes
each page once (the cold time: the report query on the rollup), then runs `--clients` asyncio
clients (httpx, keep-alive, one session cookie each) for `--seconds` over a mix of province,
district, site and nodes pages and their /api/v1 twins; then, when Debian's `wrk` is
installed, the same mixes with wrk (a C load generator, so the figures are the server's rather
than the Python client's). Target: p99 < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.report import CACHE, DISTRICTS, build, sites_yaml  # noqa: E402

USER, PASSWORD = "bench", "bench password 1"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(db: Path, sites: Path) -> tuple[subprocess.Popen[bytes], str]:
    from aggregator.web.auth import add_user

    users = CACHE / "web-users"
    if not users.exists():
        add_user(users, USER, PASSWORD)
    port = free_port()
    bzagg = str(Path(sys.executable).parent / "bzagg")
    log = (CACHE / "web.log").open("wb")
    proc = subprocess.Popen(
        [bzagg, "web", "--db", str(db), "--users", str(users), "--sites-file", str(sites),
         "--listen", f"127.0.0.1:{port}", "--target", "0.5", "--deadline", "2020-08-20",
         "--secret-file", str(CACHE / "web-secret")],
        stdout=log, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("bzagg web did not start; see bench/.cache/web.log")


def login(url: str) -> httpx.Cookies:
    with httpx.Client(base_url=url, timeout=60) as c:
        form = c.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        r = c.post("/login", data={"csrf": token.group(1), "user": USER, "password": PASSWORD})
        assert r.status_code == 303, r.status_code
        return c.cookies


def urls(nodes: int) -> list[tuple[str, str]]:
    rng = random.Random(3)
    sites = [f"bench-site-{rng.randrange(nodes):04d}" for _ in range(8)]
    pages = ["/", "/nodes", *(f"/district/{quote(d)}" for d in DISTRICTS[:4]),
             *(f"/site/{s}" for s in sites)]  # fmt: skip
    apis = ["/api/v1/province", "/api/v1/nodes",
            *(f"/api/v1/districts/{quote(d)}" for d in DISTRICTS[:4]),
            *(f"/api/v1/sites/{s}" for s in sites)]  # fmt: skip
    return [("page", u) for u in pages] + [("api", u) for u in apis]


async def load(
    url: str, cookies: httpx.Cookies, mix: list[tuple[str, str]], clients: int, seconds: float
) -> dict[str, list[float]]:
    lat: dict[str, list[float]] = {"page": [], "api": []}
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        rng = random.Random(i)
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=30,
                                     limits=limits) as c:  # fmt: skip
            while time.perf_counter() < stop:
                kind, path = rng.choice(mix)
                t0 = time.perf_counter()
                r = await c.get(path)
                lat[kind].append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    if errors:
        print(f"  {errors} responses were not 200")
    return lat


_LUA = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def wrk(url: str, cookies: httpx.Cookies, paths: list[str], clients: int, seconds: float) -> str:
    """wrk (C, Debian's package) with the session cookie: p50/p99 without Python's overhead."""
    script = CACHE / "web-mix.lua"
    script.write_text(_LUA % ", ".join(f'"{p}"' for p in paths), encoding="utf-8")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:.0f}s", "--latency",
         "-H", f"Cookie: {cookie}", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    q = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    rate = re.search(r"Requests/sec:\s+(\S+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (f"p50 {q.get('50')}, p99 {q.get('99')}, {rate.group(1) if rate else '?'} req/s"
            + (f", {bad.group(1)} non-2xx" if bad else ""))  # fmt: skip


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"report-{args.nodes}x{args.days}.sqlite3"
    sites = CACHE / f"sites-{args.nodes}.yaml"
    sites.write_text(sites_yaml(args.nodes), encoding="utf-8")
    if not db.exists():
        build(db, args.nodes, args.days)
    proc, url = start(db, sites)
    try:
        cookies = login(url)
        mix = urls(args.nodes)
        with httpx.Client(base_url=url, cookies=cookies, timeout=120) as c:
            cold = []
            for _, path in mix:
                t0 = time.perf_counter()
                assert c.get(path).status_code == 200, path
                cold.append((time.perf_counter() - t0, path))
        print(f"store: {db.stat().st_size / 1e9:.2f} GB, {args.nodes * args.days * 1440:,} windows")
        slow, slowest = max(cold)
        print(f"first computation of each page (cold, report query on the rollup): "
              f"median {statistics.median(t for t, _ in cold) * 1000:.0f} ms, "
              f"slowest {slow * 1000:.0f} ms ({slowest})")  # fmt: skip
        lat = asyncio.run(load(url, cookies, mix, args.clients, args.seconds))
        n = sum(len(v) for v in lat.values())
        print(f"{args.clients} clients for {args.seconds:.0f} s: {n} requests, "
              f"{n / args.seconds:.0f} req/s")  # fmt: skip
        for kind, xs in lat.items():
            print(f"  {kind:4s}: p50 {pct(xs, 0.5):.1f} ms, p99 {pct(xs, 0.99):.1f} ms "
                  f"({len(xs)} requests)")  # fmt: skip
        p99 = max(pct(xs, 0.99) for xs in lat.values())
        print(f"target p99 < 300 ms (httpx clients): {'MET' if p99 < 300 else 'NOT MET'} "
              f"({p99:.1f} ms)")  # fmt: skip
        if shutil.which("wrk"):
            for kind in ("page", "api"):
                paths = [u for k, u in mix if k == kind]
                print(f"wrk, {args.clients} connections, {kind}s: "
                      f"{wrk(url, cookies, paths, args.clients, args.seconds)}")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
