"""The simulated nodes of bench/soak.py: one process, N nodes, each with the real Outbox, Spool and
Publisher (end-to-end acks) against the real broker. Windows follow a compressed clock; their
counts are a known function of (node, window index), so the soak can check what was stored.

Run by bench/soak.py (`--role nodes`), not by hand. Control files in --dir inject faults:
`full-<node>` (the node's outbox is full: SQLite max_page_count) and `burst` (malformed payloads).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiomqtt

from scanner.node.outbox import Outbox
from scanner.node.publish import Publisher
from scanner.node.spool import Spool
from scanner.wire.broker import parse_broker_url
from scanner.wire.schema import Health, WindowReport
from scanner.wire.topics import window_topic

WINDOW_S = 60
WINDOWS_PER_DAY = 86400 // WINDOW_S
SITE = "soak"
_UNLIMITED = 1073741823


def node_id(i: int) -> str:
    return f"soak-{i:02d}"


def counts(i: int, k: int) -> dict[str, dict[str, int]]:
    """The truth the node counted in window k (deterministic, so the store can be checked)."""
    return {"bluezone": {"ios_fg": (i * 7 + k) % 5}, "iphone": {"all": (i + k * 3) % 11}}


def window(i: int, k: int, day0: int) -> WindowReport:
    return WindowReport(
        node=node_id(i), site=SITE, seq=0, window_start=day0 + k * WINDOW_S, window_s=WINDOW_S,
        counts=counts(i, k), health=Health(scanned_s=60.0, adverts=100 + k, mode="simulated"),
    )  # fmt: skip


def malformed(day0: int) -> list[tuple[str, bytes]]:
    """100 bad messages of five kinds; every one must end in `rejected` with a reason."""
    good: dict[str, Any] = {
        "v": 1, "node": "soak-00", "site": SITE, "seq": 10**9, "window_start": "x",
        "window_s": 60, "counts": {}, "slot_counts": {}, "software": "", "headcount": None,
        "health": {"scanned_s": 1.0, "adverts": 1, "mode": "simulated"},
    }  # fmt: skip
    topic = window_topic(SITE, "soak-00")
    kinds = [
        b"not json at all",
        json.dumps({**good, "v": 7}).encode(),
        json.dumps({**good, "counts": {"iphone": {"all": -1}}}).encode(),
        json.dumps({**good, "node": "soak-01"}).encode(),
        b"{" + b" " * 20000 + b"}",
    ]
    return [(topic, kinds[j % len(kinds)]) for j in range(100)]


async def main(args: Any) -> None:
    broker = parse_broker_url(args.broker)
    d = Path(args.dir)
    speed = 3600.0 / args.hour_s
    nodes = []
    for i in range(args.nodes):
        path = d / f"outbox-{node_id(i)}.sqlite3"
        spool = Spool(lambda p=path: Outbox(p), path)
        ob = spool.outbox
        assert ob is not None
        hw = ob.high_water()
        k = 0 if hw is None else (hw - args.day0) // WINDOW_S
        pub = Publisher(ob, broker, site=SITE, node=node_id(i), resend_after_s=args.resend_s,
                        alert_after_s=1e9, backoff_max_s=2.0)  # fmt: skip
        task = asyncio.create_task(pub.run())
        nodes.append({"i": i, "spool": spool, "ob": ob, "pub": pub, "k": k, "task": task,
                      "full": False})  # fmt: skip
    while True:
        sim = args.day0 + (time.time() - args.t0_wall) * speed
        for n in nodes:
            full = (d / f"full-{node_id(n['i'])}").exists()
            if full != n["full"]:
                db = n["ob"]._db
                pages = db.execute("PRAGMA page_count").fetchone()[0]
                db.execute(f"PRAGMA max_page_count = {pages if full else _UNLIMITED}")
                n["full"] = full
            while n["k"] < WINDOWS_PER_DAY and args.day0 + (n["k"] + 1) * WINDOW_S <= sim:
                n["spool"].put(window(n["i"], n["k"], args.day0))
                n["k"] += 1
                n["pub"].wake()
            if n["spool"].health().held and not full:
                n["spool"].flush()
        if (d / "burst").exists():
            async with aiomqtt.Client(broker.host, broker.port) as c:
                for topic, payload in malformed(args.day0):
                    await c.publish(topic, payload, qos=1)
            (d / "burst").unlink()
            (d / "burst-done").write_text("100")
        done = all(n["k"] >= WINDOWS_PER_DAY for n in nodes)
        unconfirmed = sum(n["ob"].unconfirmed()[0] + n["spool"].health().held for n in nodes)
        status = {"sim": sim, "unconfirmed": unconfirmed, "generated": sum(n["k"] for n in nodes)}
        (d / "nodes.json").write_text(json.dumps(status))
        if done and unconfirmed == 0:
            break
        await asyncio.sleep(0.05)
    for n in nodes:
        n["task"].cancel()
    await asyncio.gather(*(n["task"] for n in nodes), return_exceptions=True)
    for n in nodes:
        n["ob"].close()
