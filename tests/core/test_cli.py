"""`bzscan --replay` as a user runs it: config precedence, bad config, output, visit summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli.main import main
from scanner.sources.replay.write import write_capture
from scanner.wire.codec import decode
from tests.factories import raw_advert

T0 = 1597039200.0  # 2020-08-10T06:00:00Z


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """Three minutes: a Bluezone Android phone (new address per burst), an iPhone, a far iPhone."""
    adverts = []
    for s in range(0, 180, 2):
        adverts.append(
            raw_advert("bz_android_v2", t=T0 + s, address=f"5A:00:00:00:00:{s // 30:02X}",
                       rssi_dbm=-60)
        )  # fmt: skip
        adverts.append(
            # iPhones are ~14 dB louder: -60 passes a -80 gate, -95 does not.
            raw_advert("iphone", t=T0 + s + 0.5, address="6B:00:00:00:00:01", rssi_dbm=-60)
        )
        adverts.append(
            raw_advert("iphone", t=T0 + s + 1, address="6B:00:00:00:00:02", rssi_dbm=-95)
        )
    path = tmp_path / "visit.pcap"
    write_capture(path, adverts, "pcap", linktype=256)
    return path


def _json_reports(output: str) -> list:
    return [decode(line.encode()) for line in output.splitlines() if line.startswith("{")]


def test_replay_table_and_json(capture: Path) -> None:
    r = CliRunner().invoke(main, ["--replay", str(capture), "--rssi-min", "-80"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split()[:3] == ["window", "(UTC)", "bz_and"]
    assert lines[1].split()[:2] == ["2020-08-10T06:00:00Z", "1"]
    assert "replayed 270 adverts into 3 windows" in r.output

    r = CliRunner().invoke(main, ["--replay", str(capture), "--json", "--rssi-min", "-80"])
    reports = _json_reports(r.stdout)
    assert [(x.count("bluezone", "android"), x.count("iphone")) for x in reports] == [(1, 1)] * 3


def test_config_precedence_yaml_env_cli(capture: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "node.yaml"
    cfg.write_text("site: from-yaml\nnode: yaml-node\nwindow: 60\nrssi-min: -110\n")
    runner = CliRunner()
    args = ["--config", str(cfg), "--replay", str(capture), "--json"]

    reports = _json_reports(runner.invoke(main, args).stdout)
    assert {(x.site, x.node, x.window_s) for x in reports} == {("from-yaml", "yaml-node", 60)}
    # YAML's gate -110 (-96 for Apple-sent keys) lets the far iPhone in
    assert reports[0].count("iphone") == 2

    env = {"BZAUDIT_SITE": "from-env", "BZAUDIT_RSSI_MIN": "-80"}
    reports = _json_reports(runner.invoke(main, args, env=env).stdout)
    assert {x.site for x in reports} == {"from-env"} and reports[0].count("iphone") == 1

    reports = _json_reports(runner.invoke(main, [*args, "--site", "from-cli"], env=env).stdout)
    assert {x.site for x in reports} == {"from-cli"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sitee: x\n", "unknown key 'sitee'"),
        ("window: 7\n", "7 does not divide 900"),
        ("rssi-min: loud\n", "key 'rssi-min'"),
        ("- a list\n", "expected a mapping"),
        ("site: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_exits_2_naming_key_and_file(
    capture: Path, tmp_path: Path, text: str, needle: str
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    r = CliRunner().invoke(main, ["--config", str(cfg), "--replay", str(capture)])
    assert r.exit_code == 2, r.output
    assert needle in r.output
    if "window" not in text:
        assert str(cfg) in r.output


def test_bad_window_and_node_ids(capture: Path) -> None:
    r = CliRunner().invoke(main, ["--replay", str(capture), "--window", "45"])
    assert r.exit_code == 0  # 45 divides 900
    for args in (["--window", "40"], ["--node", "a/b"], ["--site", "+"]):
        r = CliRunner().invoke(main, ["--replay", str(capture), *args])
        assert r.exit_code == 2, args


def test_replay_with_headcount_prints_visit_estimate(capture: Path) -> None:
    r = CliRunner().invoke(
        main, ["--replay", str(capture), "--rssi-min", "-80", "--headcount", "4"]
    )
    assert r.exit_code == 0, r.output
    assert "head count: 4" in r.output
    assert any(line.startswith("headcount") and "%" in line for line in r.output.splitlines())


def test_installed_console_script_replays(capture: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "bzscan"
    proc = subprocess.run(
        [str(exe), "--replay", str(capture), "--json", "--window", "300"],
        capture_output=True, text=True, check=False, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (report,) = _json_reports(proc.stdout)
    assert report.window_s == 300 and report.count("bluezone", "android") == 1
    assert report.slot_counts == {"bluezone": {"android": 1}}
    assert "replayed 270 adverts" in proc.stderr
