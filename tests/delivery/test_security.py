"""TLS + password file + ACL (deploy/server/acl) and per-node HMAC signatures, end to end."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from scanner.wire.topics import window_topic
from tests.delivery.helpers import BZAGG, BZSCAN, Proc, store_seqs, wait_until, write_jsonl_capture
from tests.mosquitto import AGGREGATOR_USER, NODE_USERS, Mosquitto, require

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
KEY_A = "node-a-signing-key-0123456789"


def bzscan(broker: Mosquitto, cap: Path, tmp: Path, *, node: str, user: str, password: str,
           ca: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [BZSCAN, "--replay", str(cap), "--window", "5", "--node", node, "--site", "site-1",
         "--broker", broker.url, "--username", user, "--ca-file", str(ca),
         "--outbox", str(tmp / f"outbox-{node}-{user}.sqlite3"), "--no-progress",
         "--drain-timeout", "3", *extra],
        capture_output=True, text=True, cwd=tmp, timeout=60,
        env={"BZAUDIT_PASSWORD": password, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def rejected(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db, timeout=10)
    try:
        return list(con.execute("SELECT topic, reason FROM rejected ORDER BY id"))
    finally:
        con.close()


def mosquitto_pub(broker: Mosquitto, topic: str, payload: bytes, user: str, pw: str) -> None:
    assert broker.tls is not None
    subprocess.run(
        [require("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(broker.port), "--cafile",
         str(broker.tls.ca), "-u", user, "-P", pw, "-q", "1", "-t", topic, "-s"],
        input=payload, check=True, timeout=20,
    )  # fmt: skip


def test_acl_blocks_impersonation_and_signatures_reject_forgery(
    mosquitto_tls: Mosquitto, tmp_path: Path
) -> None:
    broker = mosquitto_tls
    assert broker.tls is not None
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"node-a: {KEY_A}\n")
    key_file = tmp_path / "node-a.key"
    key_file.write_text(KEY_A + "\n")
    db = tmp_path / "store.sqlite3"
    agg = Proc(
        [BZAGG, "serve", "--broker", broker.url, "--username", AGGREGATOR_USER[0],
         "--ca-file", str(broker.tls.ca), "--db", str(db), "--keys", str(keys)],
        tmp_path, "agg", env={"BZAUDIT_SERVE_PASSWORD": AGGREGATOR_USER[1]},
    )  # fmt: skip
    try:
        agg.wait_stderr("subscribed")
        cap = write_jsonl_capture(tmp_path / "visit.jsonl", 20)

        # A node publishing as itself, signed: stored.
        ok = bzscan(broker, cap, tmp_path, node="node-a", user="node-a",
                    password=NODE_USERS["node-a"], ca=broker.tls.ca,
                    extra=("--hmac-key-file", str(key_file)))  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        wait_until(lambda: len(store_seqs(db, "node-a")) == 4, 20, "node-a's windows")

        # node-a's credentials used to publish as node-b: the broker drops it (ACL %u). A
        # scanner misconfigured that way never gets its windows through (mosquitto even drops
        # the connection when several denied QoS 1 publishes are in flight); a single publish
        # is acknowledged and silently discarded. Either way: nothing reaches the store.
        bzscan(broker, cap, tmp_path, node="node-b", user="node-a",
               password=NODE_USERS["node-a"], ca=broker.tls.ca)  # fmt: skip
        outbox = sqlite3.connect(tmp_path / "outbox-node-a-node-a.sqlite3")
        one = bytes(outbox.execute("SELECT payload FROM outbox LIMIT 1").fetchone()[0])
        outbox.close()
        as_b = json.loads(one)
        as_b["node"] = "node-b"
        del as_b["sig"]
        mosquitto_pub(broker, window_topic("site-1", "node-b"), json.dumps(as_b).encode(),
                      "node-a", NODE_USERS["node-a"])  # fmt: skip

        # Forged payloads on node-a's own topic: a changed count under the old signature, and
        # an unsigned window. Published with node-a's valid credentials, so the ACL allows them;
        # they also mark that the broker has handled everything published before them.
        obj = json.loads(one)
        obj["counts"]["bluezone"]["ios_fg"] = 50  # the node's real signature stays on
        topic = window_topic("site-1", "node-a")
        mosquitto_pub(broker, topic, json.dumps(obj).encode(), "node-a", NODE_USERS["node-a"])
        del obj["sig"]
        obj["window_start"] = "2023-11-14T22:30:00Z"
        mosquitto_pub(broker, topic, json.dumps(obj).encode(), "node-a", NODE_USERS["node-a"])
        wait_until(lambda: len(rejected(db)) >= 2, 20, "forgeries rejected")
        time.sleep(0.5)
        assert rejected(db) == [(topic, "bad_signature"), (topic, "bad_signature")]
        assert store_seqs(db, "node-b") == [] and len(store_seqs(db, "node-a")) == 4
    finally:
        assert agg.terminate() == 0
    nodes = subprocess.run([BZAGG, "nodes", "--db", str(db)], capture_output=True, text=True)
    assert "node-a" in nodes.stdout and "node-b" not in nodes.stdout


def test_wrong_password_and_untrusted_ca_fail_clearly(
    mosquitto_tls: Mosquitto, tmp_path: Path
) -> None:
    broker = mosquitto_tls
    assert broker.tls is not None
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 6)
    bad_pw = bzscan(broker, cap, tmp_path, node="node-a", user="node-a", password="wrong",
                    ca=broker.tls.ca)  # fmt: skip
    assert bad_pw.returncode == 1
    assert "refused the login" in bad_pw.stderr and "--password" in bad_pw.stderr
    assert "stay in" in bad_pw.stderr  # and the windows wait in the outbox

    bad_ca = bzscan(broker, cap, tmp_path, node="node-a", user="node-a",
                    password=NODE_USERS["node-a"], ca=broker.tls.other_ca)  # fmt: skip
    assert bad_ca.returncode == 1
    assert "certificate not trusted" in bad_ca.stderr and "--ca-file" in bad_ca.stderr
