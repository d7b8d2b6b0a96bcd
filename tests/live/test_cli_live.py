"""`bzscan` live and `bzscan doctor` as a user runs them (console script), against the fake."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from scanner.node.doctor import run_checks
from scanner.node.liveview import LiveView
from scanner.node.outbox import Outbox
from scanner.node.run_live import LiveStatus
from scanner.wire.broker import parse_broker_url
from scanner.wire.codec import decode
from scanner.wire.duration import parse_duration
from tests.fakebluez.service import FakeBlueZ
from tests.live.scene import bz_android, nearby_info

pytestmark = pytest.mark.bluez
Factory = Callable[..., Awaitable[FakeBlueZ]]


def _bzscan() -> list[str]:
    exe = Path(sys.executable).parent / "bzscan"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "scanner.cli.main"]


async def _run(
    args: list[str], fake: FakeBlueZ | None = None, inject_s: float = 0.0, state: Path | None = None
) -> tuple[int, str, str]:
    # A live run keeps an outbox under XDG_STATE_HOME unless told otherwise: keep it in the test.
    env = {**os.environ, "COLUMNS": "120"}
    if state is not None:
        env["XDG_STATE_HOME"] = str(state)
    proc = await asyncio.create_subprocess_exec(
        *_bzscan(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    if fake is not None:
        loop = asyncio.get_running_loop()
        end = loop.time() + inject_s
        i = 0
        while loop.time() < end:
            fake.advertise("C0:11:22:33:44:55", -60 - i % 3, nearby_info())
            fake.advertise(f"D0:00:00:00:00:{i % 200:02X}", -62, bz_android(bytes(range(12))))
            i += 1
            await asyncio.sleep(0.05)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["active", "passive"])
async def test_bzscan_live_json_lines(fake_bluez: FakeBlueZ, mode: str, tmp_path: Path) -> None:
    code, out, err = await _run(
        [
            "--mode",
            mode,
            "--duration",
            "3s",
            "--window",
            "1",
            "--json",
            "--node",
            "n1",
            "--site",
            "s1",
        ],
        fake_bluez,
        inject_s=2.5,
        state=tmp_path,
    )
    assert code == 0, err
    reports = [decode(line.encode()) for line in out.splitlines() if line.startswith("{")]
    # Every printed window also went to the outbox, in seq order, for a later `bzagg ingest`.
    outbox = Outbox(tmp_path / "bzaudit" / "outbox-n1.sqlite3")
    try:
        kept = [decode(payload) for _seq, _topic, payload in outbox.all_payloads()]
    finally:
        outbox.close()
    assert [(r.window_start, r.counts) for r in kept] == [
        (r.window_start, r.counts) for r in reports
    ]
    assert [r.seq for r in kept] == list(range(len(kept)))
    assert len(reports) >= 3
    assert all(r.health.mode == mode and r.health.adapter == "hci0" for r in reports)
    assert sum(r.count("iphone") for r in reports) >= 2
    assert sum(r.count("bluezone", "android") for r in reports) >= 2
    assert "visit:" in err
    if mode == "passive":
        assert "cannot see" in err


async def test_bzscan_live_error_is_a_click_error(fake_bluez_factory: Factory) -> None:
    await fake_bluez_factory(powered=False)
    code, _out, err = await _run(["--duration", "2s", "--dry-run", "--site", "s1", "--node", "n1"])
    assert code == 1
    assert "Error: Bluetooth adapter hci0 is powered off: run `bluetoothctl power on`" in err
    assert "Traceback" not in err


def test_bare_live_scan_needs_site_and_node() -> None:
    from click.testing import CliRunner

    from scanner.cli.main import main

    res = CliRunner().invoke(main, ["--site", "s1", "--duration", "1s"])
    assert res.exit_code == 2 and "a live scan needs --node" in res.output


async def test_bzscan_doctor_lists_adapters_without_addresses(fake_bluez_factory: Factory) -> None:
    fake = await fake_bluez_factory(adapters=("hci0", "hci1"), monitor_api=False)
    code, out, _err = await _run(["doctor", "--broker", "127.0.0.1:9"])
    assert "adapters" in out and "hci0, hci1" in out
    assert "deploy/bluetooth/experimental.conf" in out  # no monitor API: how to enable it
    assert "bleak" in out and "python" in out
    for a in fake.adapters.values():
        assert a.address not in out and a.address.lower() not in out
        assert a.address[-5:] not in out
    assert "broker" in out and "not reachable" in out
    assert code == 1  # the broker check failed


async def test_doctor_checks_passive_support(fake_bluez: FakeBlueZ) -> None:
    checks = {c.name: c for c in await run_checks()}
    assert checks["adapters"].status == "ok"
    assert checks["hci0 passive"].status == "ok" and "or_patterns" in checks["hci0 passive"].detail
    assert checks["clock"].status in ("ok", "warn")


def test_doctor_helpers() -> None:
    def split_host_port(url: str) -> tuple[str, int]:
        b = parse_broker_url(url)
        return b.host, b.port

    assert split_host_port("mqtts://broker.example:8884") == ("broker.example", 8884)
    assert split_host_port("broker") == ("broker", 1883)
    assert split_host_port("mqtts://b") == ("b", 8883)
    # The doctor's own parser once read `user:pass@host` as host "user:pass@host".
    assert split_host_port("mqtts://node-a:s3cret@b:8884") == ("b", 8884)
    assert (
        parse_duration("10m") == 600
        and parse_duration("1h30m") == 5400
        and parse_duration("45") == 45
    )
    with pytest.raises(ValueError, match="10m"):
        parse_duration("ten minutes")


def test_live_view_interactive_render_and_summary() -> None:
    from scanner.wire.schema import Health, WindowReport

    buf = io.StringIO()
    view = LiveView(buf, interactive=True)
    r = WindowReport(
        node="n",
        site="s",
        seq=0,
        window_start=QUARTER_,
        window_s=60,
        counts={"bluezone": {"android": 2}, "iphone": {"all": 3}, "phone": {"en": 1}},
        health=Health(scanned_s=60, adverts=10, mode="active"),
    )
    with view:
        st = LiveStatus(QUARTER_, 600, "active", "hci0")
        st.now = QUARTER_ + 75
        view.on_status(st)
        view.window(r)
    text = buf.getvalue()
    assert "1:15 elapsed" in text and "8:45 left" in text
    assert "Bluezone / phones so far" in text and "33% (2 / 6" in text
    lines = view.summary_lines(headcount=10)
    assert lines[0].startswith("visit: 1 windows")


def test_live_view_plain_prints_one_line_per_window() -> None:
    from scanner.wire.schema import Health, WindowReport

    buf = io.StringIO()
    view = LiveView(buf, as_json=True)
    for k in range(3):
        view.window(
            WindowReport(
                node="n",
                site="s",
                seq=k,
                window_start=QUARTER_ + 60 * k,
                window_s=60,
                counts={},
                health=Health(60, 0, "active"),
            )
        )
    assert len(buf.getvalue().splitlines()) == 3


QUARTER_ = 1_597_906_800
