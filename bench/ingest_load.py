"""Helpers of bench/ingest.py: the windows, a backlog publisher fast enough for 600,000 of them,
aggregator processes (optionally under py-spy) and a summary of py-spy's samples."""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner.wire.codec import encode  # noqa: E402
from scanner.wire.schema import Health, WindowReport  # noqa: E402
from scanner.wire.topics import window_topic  # noqa: E402

BIN = Path(sys.executable).parent
T0 = 1_700_000_100
Msgs = list[tuple[str, bytes, tuple[str, int]]]


def windows(first: int, n: int, nodes: int) -> Msgs:
    """Windows first..first+n-1: node i % nodes, its seq i // nodes, one a minute per node."""
    out = []
    for i in range(first, first + n):
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


_TO_PUBLISH: Msgs = []


def _publish_slice(port: int, start: int, step: int) -> None:
    """QoS 1, up to 1000 unacknowledged, paho driven from this one thread (publishing from
    another thread than paho's loop stalled it with hundreds of thousands queued)."""
    mine = _TO_PUBLISH[start::step]
    acked = [0]

    def on_publish(*_: object) -> None:
        acked[0] += 1

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{start}")
    c.max_inflight_messages_set(1000)
    c.on_publish = on_publish
    c.connect("127.0.0.1", port)
    sent, deadline = 0, time.monotonic() + 1200
    while acked[0] < len(mine):
        while sent < len(mine) and sent - acked[0] < 1000:
            topic, payload, _ = mine[sent]
            c.publish(topic, payload, qos=1)
            sent += 1
        if c.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS or time.monotonic() > deadline:
            raise SystemExit(f"publisher {start}: {len(mine) - acked[0]} windows unacknowledged")
    c.disconnect()


def publish_backlog(port: int, msgs: Msgs, processes: int = 2) -> float:
    """Publish every window once (QoS 1, acknowledged by the broker); returns windows/s."""
    global _TO_PUBLISH
    _TO_PUBLISH = msgs  # inherited by the forked publishers, not pickled
    t0 = time.monotonic()
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_publish_slice, args=(port, i, processes)) for i in range(processes)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a publisher failed ({p.exitcode})")
    return len(msgs) / (time.monotonic() - t0)


def start_agg(
    work: Path, argv: list[str], name: str, profile: Path | None, workers: int = 1
) -> subprocess.Popen[bytes]:
    """`bzagg serve ARGV --client-id NAME`, stderr to NAME.err; returns once its `workers`
    subscribers subscribed."""
    err = work / f"{name}.err"
    before = err.read_text().count("subscribed") if err.exists() else 0
    cmd = [str(BIN / "bzagg"), "serve", *argv, "--client-id", name]
    if profile is not None:
        spy = ["py-spy", "record", "-r", "200", "--format", "raw", "--subprocesses", "-t"]
        cmd = [str(BIN / spy[0]), *spy[1:], "-o", str(profile / f"{name}.txt"), "--", *cmd]
    p = subprocess.Popen(cmd, stderr=err.open("ab"), stdout=subprocess.DEVNULL, cwd=work)
    deadline = time.monotonic() + 60
    while err.read_text().count("subscribed") < before + workers:
        if time.monotonic() > deadline or p.poll() is not None:
            raise SystemExit("bzagg serve did not subscribe:\n" + err.read_text())
        time.sleep(0.01)
    return p


def stop_agg(p: subprocess.Popen[bytes]) -> None:
    """SIGTERM to bzagg (under py-spy: to the processes py-spy started, so it writes its file)."""
    targets = [p.pid]
    if Path(p.args[0]).name == "py-spy":  # type: ignore[index]
        targets = [c.pid for c in psutil.Process(p.pid).children()]
    for pid in targets:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).send_signal(signal.SIGTERM)
    p.wait(120)


_SUMMARY = re.compile(r"(\d+) messages, (\d+) windows stored, (\d+) duplicates, (\d+) rejected")


def summaries(text: str) -> tuple[int, int, int, int]:
    """Sums of the `bzagg: … messages, … stored, … duplicates, … rejected` lines in TEXT."""
    sums = [0, 0, 0, 0]
    for m in _SUMMARY.finditer(text):
        for i in range(4):
            sums[i] += int(m.group(i + 1))
    return sums[0], sums[1], sums[2], sums[3]


def profile_summary(path: Path, top: int = 14) -> list[str]:
    """Shares of py-spy samples: per thread role, then the heaviest functions (inclusive)."""
    total, roles, incl = 0, collections.Counter[str](), collections.Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        n, frames = int(n_text), stack.split(";")
        total += n
        names = [re.sub(r" \((.*?):\d+\)", r" (\1)", f) for f in frames[1:]]
        roles[_role(names)] += n
        for f in set(names):
            incl[f] += n
    if not total:
        return [f"{path.name}: no samples"]
    out = [f"{path.name}: {total} samples at 200 Hz ({total / 200:.1f} s of CPU)"]
    out += [f"  {100 * v / total:5.1f} %  {k}" for k, v in roles.most_common()]
    skip = ("threading.py", "runners.py", "base_events.py", "click/", "bzagg)", "thread.py",
            "thread (", "process (", "clikit/")  # fmt: skip
    heavy = [(k, v) for k, v in incl.most_common(200) if not any(s in k for s in skip)]
    out += [f"  {100 * v / total:5.1f} %  in {k}" for k, v in heavy[:top]]
    return out


def _role(frames: list[str]) -> str:
    text = ";".join(frames)
    for key, role in (
        ("add_windows", "store write (worker)"), ("judge", "decode + validation (worker)"),
        ("loop_read", "MQTT read + parse (paho)"), ("loop_write", "MQTT write, acks (paho)"),
        ("ingest_batch", "batch bookkeeping (worker)"), ("select", "waiting in select"),
        ("_find_and_load", "imports / start-up"),
    ):  # fmt: skip
        if key in text:
            return role
    return "other (event loop, aiomqtt, asyncio)"


if __name__ == "__main__":
    print("helpers of bench/ingest.py; run that instead")
