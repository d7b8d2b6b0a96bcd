"""`bzagg serve --embedded-broker`, `bzagg ingest`, `bzagg nodes`, config precedence; the installed
console scripts run as a user would."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli.main import main as bzagg_main
from aggregator.ingest.embedded import free_port
from scanner.wire.broker import BrokerConfigError, parse_broker_url
from tests.delivery.helpers import (
    BZAGG,
    BZSCAN,
    Proc,
    outbox_rows,
    store_seqs,
    wait_until,
    write_jsonl_capture,
)


def scan(
    cap: Path, tmp: Path, *extra: str, node: str = "node-a"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BZSCAN, "--replay", str(cap), "--window", "5", "--node", node, "--site", "site-1",
         "--no-progress", *extra],
        capture_output=True, text=True, cwd=tmp, timeout=60,
    )  # fmt: skip


def test_embedded_broker_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "store.sqlite3"
    agg = Proc([BZAGG, "serve", "--embedded-broker", "--embedded-port", str(port), "--db", str(db)],
               tmp_path, "agg")  # fmt: skip
    try:
        agg.wait_stderr("subscribed")
        assert f"embedded broker on mqtt://127.0.0.1:{port}" in agg.stderr()
        cap = write_jsonl_capture(tmp_path / "visit.jsonl", 30)
        outbox = tmp_path / "outbox.sqlite3"
        res = scan(cap, tmp_path, "--broker", f"mqtt://127.0.0.1:{port}", "--outbox", str(outbox))
        assert res.returncode == 0, res.stderr
        rows = outbox_rows(outbox)
        assert len(rows) == 6 and all(sent for _, _, sent in rows)
        wait_until(lambda: store_seqs(db, "node-a") == list(range(6)), 20, "windows stored")
        wait_until(lambda: "offline" in _nodes(db), 10, "status offline after a clean stop")
    finally:
        assert agg.terminate() == 0
    assert "6 windows stored" in agg.stderr()


def _nodes(db: Path) -> str:
    return subprocess.run([BZAGG, "nodes", "--db", str(db)], capture_output=True, text=True).stdout


def test_offline_visit_then_ingest_is_idempotent(tmp_path: Path) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 20)
    outbox = tmp_path / "visit-outbox.sqlite3"
    res = scan(cap, tmp_path, "--outbox", str(outbox))
    assert res.returncode == 0, res.stderr
    assert [s for s, _, sent in outbox_rows(outbox) if not sent] == [0, 1, 2, 3]
    db = tmp_path / "store.sqlite3"
    first = subprocess.run([BZAGG, "ingest", str(outbox), "--db", str(db)], capture_output=True,
                           text=True)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "4 windows, 4 stored, 0 already there, 0 rejected" in first.stdout
    # A second visit appends to the same outbox; re-ingesting adds only the new windows.
    later = write_jsonl_capture(tmp_path / "later.jsonl", 10, t0=1_700_000_100 + 600)
    assert scan(later, tmp_path, "--outbox", str(outbox)).returncode == 0
    again = subprocess.run([BZAGG, "ingest", str(outbox), "--db", str(db)], capture_output=True,
                           text=True)  # fmt: skip
    assert "6 windows, 2 stored, 4 already there, 0 rejected" in again.stdout
    assert store_seqs(db, "node-a") == list(range(6))
    nodes = subprocess.run([BZAGG, "nodes", "--db", str(db), "--json"], capture_output=True,
                           text=True)  # fmt: skip
    (row,) = [json.loads(line) for line in nodes.stdout.splitlines()]
    assert row["node"] == "node-a" and row["windows"] == 6 and row["last_seq"] == 5
    assert row["seq_gaps"] == 0 and row["duplicates"] == 4 and row["rejected"] == 0


def test_ingest_rejects_what_a_key_does_not_sign(tmp_path: Path) -> None:
    cap = write_jsonl_capture(tmp_path / "visit.jsonl", 10)
    outbox = tmp_path / "o.sqlite3"
    assert scan(cap, tmp_path, "--outbox", str(outbox)).returncode == 0
    keys = tmp_path / "keys.yaml"
    keys.write_text("node-a: a-key-of-sixteen-plus\n")
    res = CliRunner().invoke(
        bzagg_main,
        ["ingest", str(outbox), "--db", str(tmp_path / "s.sqlite3"), "--keys", str(keys)],
    )
    assert res.exit_code == 0, res.output
    assert "2 rejected (bad_signature 2)" in res.output


def test_config_precedence_and_bad_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    cfg = tmp_path / "aggregator.yaml"
    cfg.write_text("broker: gopher://from-yaml\n")
    # An unusable broker URL makes serve stop before connecting and name the URL it got.
    res = runner.invoke(bzagg_main, ["serve", "--config", str(cfg)])
    assert res.exit_code == 2 and "gopher://from-yaml" in res.output
    monkeypatch.setenv("BZAUDIT_SERVE_BROKER", "ftp://from-env")
    res = runner.invoke(bzagg_main, ["serve", "--config", str(cfg)])
    assert res.exit_code == 2 and "ftp://from-env" in res.output
    res = runner.invoke(bzagg_main, ["serve", "--config", str(cfg), "--broker", "http://from-cli"])
    assert res.exit_code == 2 and "http://from-cli" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("brokr: mqtt://x\n")
    res = runner.invoke(bzagg_main, ["serve", "--config", str(bad)])
    assert res.exit_code == 2 and "'brokr'" in res.output and str(bad) in res.output
    res = runner.invoke(bzagg_main, ["nodes", "--db", str(tmp_path / "missing.sqlite3")])
    assert res.exit_code == 1 and "no store at" in res.output


def test_broker_urls() -> None:
    b = parse_broker_url("mqtts://node-a:p%40ss@broker.example:8884")
    assert (b.host, b.port, b.tls, b.username, b.password) == (
        "broker.example",
        8884,
        True,
        "node-a",
        "p@ss",
    )
    b = parse_broker_url("mqtts://u:x@h", username="v", password="y")
    assert (b.port, b.username, b.password) == (8883, "v", "y")
    assert parse_broker_url("localhost:1884").port == 1884
    assert parse_broker_url("mqtt://h").port == 1883
    for bad in ("http://h:1", "mqtt://:1883", "mqtt://h:99999"):
        with pytest.raises(BrokerConfigError):
            parse_broker_url(bad)
    with pytest.raises(BrokerConfigError, match="not mqtts"):
        parse_broker_url("mqtt://h", ca_file=Path("/etc/hosts"))
