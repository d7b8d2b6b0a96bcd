"""Broker settings checked: `bzagg doctor` probes message size and queue depth on a real
Mosquitto; the deploy config's limits pass it; a window the broker drops is logged by the node."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.delivery.helpers import BZAGG, BZSCAN, Proc, write_jsonl_capture
from tests.mosquitto import Mosquitto

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "server" / "mosquitto.conf"


def _broker(tmp_path: Path, *extra: str) -> Mosquitto:
    b = Mosquitto(tmp_path / "mqtt", extra=extra)
    b.start()
    return b


def _doctor(broker: Mosquitto, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BZAGG, "doctor", "--broker", broker.url, *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_doctor_finds_mosquittos_default_queue_and_a_small_size_limit(tmp_path: Path) -> None:
    broker = _broker(tmp_path, "max_queued_messages 1000", "message_size_limit 1000")
    try:
        res = _doctor(broker, "--db", str(tmp_path / "s.sqlite3"))
    finally:
        broker.stop()
    assert res.returncode == 1, res.stdout + res.stderr
    assert re.search(r"fail\s+message size: a 16384-byte window is dropped", res.stdout)
    assert re.search(r"fail\s+queue depth: only 10\d\d of 1100", res.stdout)
    assert re.search(r"ok\s+store:", res.stdout)


def test_the_deploy_configs_limits_pass_the_doctor(tmp_path: Path) -> None:
    conf = DEPLOY_CONF.read_text()
    limits = [
        line.strip() for line in conf.splitlines()
        if line.split(" ")[0] in ("max_queued_messages", "max_queued_bytes", "message_size_limit")
    ]  # fmt: skip
    assert len(limits) == 3
    broker = _broker(tmp_path, *limits)
    try:
        res = _doctor(broker)
    finally:
        broker.stop()
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"ok\s+message size", res.stdout) and "1 MiB" not in res.stdout
    assert re.search(r"ok\s+queue depth: 1100 of 1100", res.stdout)


def test_a_window_the_broker_drops_for_its_size_is_logged_by_the_node(tmp_path: Path) -> None:
    # Windows are ~600 bytes; this broker takes nothing over 300 and says nothing about it.
    broker = _broker(tmp_path, "message_size_limit 300")
    db = tmp_path / "store.sqlite3"
    agg = Proc([BZAGG, "serve", "--broker", broker.url, "--db", str(db)], tmp_path, "agg")
    try:
        agg.wait_stderr("subscribed")
        cap = write_jsonl_capture(tmp_path / "v.jsonl", 3)
        scan = subprocess.run(
            [BZSCAN, "--replay", str(cap), "--window", "1", "--node", "node-a", "--site",
             "site-1", "--broker", broker.url, "--outbox", str(tmp_path / "o.sqlite3"),
             "--no-progress", "--resend-after", "0.3", "--drain-timeout", "14"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        agg.terminate()
        broker.stop()
    assert scan.returncode == 1
    assert "did not take windows seq 0" in scan.stderr and "message_size_limit" in scan.stderr
    assert "3 window(s) not yet delivered" in scan.stderr
