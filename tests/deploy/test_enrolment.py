"""`bzagg nodes add/revoke` against Mosquitto run from the installed production config (TLS)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import ssl
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from scanner.wire.topics import ack_topic, encode_ack
from tests.delivery.helpers import BZAGG, BZSCAN, write_jsonl_capture
from tests.deploy.helpers import SERVER_INSTALL, InstalledBroker, run_install
from tests.mosquitto import make_tls

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def nodes_add(root: Path, name: str, port: int) -> dict[str, str]:
    done = subprocess.run(
        [BZAGG, "nodes", "add", name, "--site", "site-1",
         "--passwd-file", str(root / "etc/mosquitto/bzaudit.passwd"),
         "--keys-file", str(root / "etc/bluezone-audit/node-keys.yaml"),
         "--broker", f"mqtts://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(re.findall(r"(BZAUDIT_PASSWORD|BZAUDIT_HMAC_KEY)=([^' ]+)", done.stdout))


def client(broker: InstalledBroker, ca: Path, user: str, pw: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", broker.port, username=user, password=pw, identifier=f"t-{user}",
        tls_context=ssl.create_default_context(cafile=str(ca)),
    )  # fmt: skip


async def collect(c: aiomqtt.Client, out: list[tuple[str, bytes]]) -> None:
    async for m in c.messages:
        out.append((str(m.topic), bytes(m.payload)))  # type: ignore[arg-type]


async def ack_when_stored(
    agg: aiomqtt.Client, got: list[tuple[str, bytes]], node: str, n: int
) -> None:
    topic = f"bzaudit/v1/site-1/{node}/window"
    while sum(t == topic for t, _ in got) < n:
        await asyncio.sleep(0.025)
    await agg.publish(ack_topic("site-1", node), encode_ack(node, n - 1), qos=1, retain=True)


async def run_async(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """A CLI run that leaves the event loop free for the MQTT clients meanwhile."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    return (proc.returncode or 0), err.decode()


async def settle(got: list[tuple[str, bytes]], topic: str) -> None:
    for _ in range(200):
        if any(t == topic for t, _ in got):
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"nothing arrived on {topic}: {got}")


async def test_node_writes_only_its_own_topics_and_is_refused_after_revoke(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    tls = make_tls(tmp_path / "tls")
    run_install(SERVER_INSTALL, root, "--skip-pip", "--tls-dir", str(tls.ca.parent))
    broker = InstalledBroker(tmp_path / "mqtt", root)
    creds = (root / "etc/bluezone-audit/aggregator.credentials").read_text()
    agg_pw = creds.strip().split("=", 1)[1]
    a = nodes_add(root, "node-a", broker.port)
    b = nodes_add(root, "node-b", broker.port)
    assert a["BZAUDIT_PASSWORD"] != b["BZAUDIT_PASSWORD"] and len(a["BZAUDIT_HMAC_KEY"]) >= 32
    keys = (root / "etc/bluezone-audit/node-keys.yaml").read_text()
    assert a["BZAUDIT_HMAC_KEY"] in keys and a["BZAUDIT_PASSWORD"] not in keys
    passwd = (root / "etc/mosquitto/bzaudit.passwd").read_text()
    assert a["BZAUDIT_PASSWORD"] not in passwd and "node-a:$7$" in passwd  # hashed
    broker.start()
    try:
        got: list[tuple[str, bytes]] = []
        a_acks: list[tuple[str, bytes]] = []
        async with client(broker, tls.ca, "bzagg", agg_pw) as agg, \
                client(broker, tls.ca, "node-a", a["BZAUDIT_PASSWORD"]) as na:  # fmt: skip
            await agg.subscribe("bzaudit/v1/#", qos=1)
            await na.subscribe("bzaudit/v1/+/+/ack", qos=1)  # asks for every ack...
            tasks = [
                asyncio.create_task(collect(agg, got)),
                asyncio.create_task(collect(na, a_acks)),
            ]
            # node-a's real windows, published by bzscan with the snippet's settings.
            cap = write_jsonl_capture(tmp_path / "visit.jsonl", 10)
            key_file = tmp_path / "node-a.key"
            key_file.write_text(a["BZAUDIT_HMAC_KEY"] + "\n")
            # The aggregator's part of end-to-end delivery: ack node-a's two windows once stored.
            tasks.append(asyncio.create_task(ack_when_stored(agg, got, "node-a", 2)))
            scan = await run_async(
                [BZSCAN, "--replay", str(cap), "--window", "5", "--node", "node-a", "--site",
                 "site-1", "--broker", f"mqtts://127.0.0.1:{broker.port}", "--username", "node-a",
                 "--ca-file", str(tls.ca), "--hmac-key-file", str(key_file),
                 "--outbox", str(tmp_path / "outbox.sqlite3"), "--no-progress"],
                env={"BZAUDIT_PASSWORD": a["BZAUDIT_PASSWORD"], "PATH": "/usr/bin:/bin"},
            )  # fmt: skip
            assert scan[0] == 0, scan[1]
            await settle(got, "bzaudit/v1/site-1/node-a/window")
            # node-a impersonating node-b: dropped by the ACL, silently (the publish "succeeds").
            await na.publish("bzaudit/v1/site-1/node-b/window", b'{"forged":1}', qos=1)
            await na.publish("bzaudit/v1/site-1/node-b/status", b"offline", qos=1)
            await na.publish("bzaudit/v1/site-1/node-a/ack", b'{"forged":1}', qos=1)
            # The aggregator acknowledges both nodes; node-a may read only its own ack.
            await agg.publish("bzaudit/v1/site-1/node-b/ack", b'{"seq":9}', qos=1)
            async with client(broker, tls.ca, "node-b", b["BZAUDIT_PASSWORD"]) as nb:
                await nb.publish("bzaudit/v1/site-1/node-b/window", b'{"real":1}', qos=1)
            await settle(got, "bzaudit/v1/site-1/node-b/window")
            await settle(a_acks, "bzaudit/v1/site-1/node-a/ack")
            for t in tasks:
                t.cancel()
        windows = [json.loads(p) for t, p in got if t.endswith("/window")]
        assert {w.get("node") for w in windows if "node" in w} == {"node-a"}
        assert len([w for w in windows if w.get("node") == "node-a"]) == 2
        assert [p for t, p in got if t.endswith("node-b/window")] == [b'{"real":1}']
        assert b'{"forged":1}' not in [p for _, p in got], "the ACL let a forgery through"
        assert {t for t, _ in a_acks} == {"bzaudit/v1/site-1/node-a/ack"}
        # Only the aggregator's ack, never node-a's own forgery.
        assert {p for _, p in a_acks} == {encode_ack("node-a", 1)}

        revoke = subprocess.run(
            [BZAGG, "nodes", "revoke", "node-a",
             "--passwd-file", str(root / "etc/mosquitto/bzaudit.passwd"),
             "--keys-file", str(root / "etc/bluezone-audit/node-keys.yaml")],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert revoke.returncode == 0, revoke.stderr
        assert "node-a" not in (root / "etc/bluezone-audit/node-keys.yaml").read_text()
        assert broker.proc is not None
        broker.proc.send_signal(signal.SIGHUP)  # what `systemctl reload mosquitto` sends
        for _ in range(100):
            if "Reloading config" in broker.log_text():
                break
            await asyncio.sleep(0.05)
        with pytest.raises(aiomqtt.MqttError, match=r"Not authorized|code:135|code:5"):
            async with client(broker, tls.ca, "node-a", a["BZAUDIT_PASSWORD"]):
                pass
        async with client(broker, tls.ca, "node-b", b["BZAUDIT_PASSWORD"]):
            pass  # node-b is untouched
    finally:
        broker.stop()


def test_add_refuses_a_second_enrolment_and_the_aggregator_name(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from aggregator.cli.main import main

    files = ["--passwd-file", str(tmp_path / "passwd"), "--keys-file", str(tmp_path / "k.yaml")]
    r = CliRunner()
    first = r.invoke(main, ["nodes", "add", "pi-07", "--site", "m1", *files])
    assert first.exit_code == 0, first.output
    assert "node: pi-07" in first.output and "site: m1" in first.output
    assert "deploy/pi/install.sh --node pi-07 --site m1" in first.output
    again = r.invoke(main, ["nodes", "add", "pi-07", *files])
    assert again.exit_code == 1 and "already enrolled" in again.output
    assert r.invoke(main, ["nodes", "add", "bzagg", *files]).exit_code == 1
    assert r.invoke(main, ["nodes", "add", "bad/name", *files]).exit_code == 1
    assert r.invoke(main, ["nodes", "revoke", "pi-07", *files]).exit_code == 0
    gone = r.invoke(main, ["nodes", "revoke", "pi-07", *files])
    assert gone.exit_code == 1 and "no broker account" in gone.output
