"""The simulator itself: determinism, the Bluezone ID schedule, scan responses, truth sanity."""

from __future__ import annotations

import hashlib
import itertools
import random
from pathlib import Path

import pytest

from scanner.ble.bluezone_id import daily_key, day_ids
from scanner.simulator.devices import Device, Radio, emit_android_bz
from scanner.simulator.model import ScenarioError, load_scenario, scenario_names
from tests.simulate.helpers import START, sim, write


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = write(sim("counter", 11, 5), tmp_path / "a.pcap")
    b = write(sim("counter", 11, 5), tmp_path / "b.pcap")
    c = write(sim("counter", 12, 5), tmp_path / "c.pcap")
    assert _digest(a) == _digest(b) != _digest(c)
    ta, tb = (p.with_suffix(".truth.json").read_text() for p in (a, b))
    assert ta == tb
    # No global RNG: drawing from `random` in between changes nothing.
    random.seed(99)
    random.random()
    d = write(sim("counter", 11, 5), tmp_path / "d.pcap")
    assert _digest(d) == _digest(a)


def _android(offset_s: float, doze: bool = False) -> Device:
    radio = Radio(1.0, -60.0, 2.0, 0.0, 0.0, -95.0)  # close and loud: every report delivered
    params = {
        "base_key": bytes(range(32)),
        "base_day": int(START // 86400) - 3,
        "clock_offset_s": offset_s,
        "phase": 7.0,
        "doze": doze,
    }
    return Device("bz_android", [(START, START + 1800)], radio, seed=5, params=params)


@pytest.mark.parametrize("offset_s", [0.0, 4.0, -4.0])
def test_android_id_switches_at_the_phone_clocks_quarter_hour(offset_s: float) -> None:
    """A2 carries the §2.9 ID of the phone's own slot; a new address every 15 s burst."""
    reports = emit_android_bz(_android(offset_s), 1.0, -127)
    day = int(START // 86400)
    ids = day_ids(daily_key(bytes(range(32)), 3))
    boundary = (day * 86400) + 5 * 900  # 01:15 UTC, inside [01:07, 01:37)
    for t, _addr, _rssi, adv, _rsp, _pdu, tags in reports:
        assert tags == ("bluezone/android",)
        slot = int(((t + offset_s) % 86400) // 900)
        assert adv[7:19] == ids[slot]
    before = {r[3][7:19] for r in reports if r[0] < boundary - offset_s}
    after = {r[3][7:19] for r in reports if 0 <= r[0] - (boundary - offset_s) < 900}
    assert before == {ids[4]} and after == {ids[5]}
    # 15 s on / 15 s off: bursts start every 30 s, each under its own address.
    bursts: dict[str, list[float]] = {}
    for r in reports:
        bursts.setdefault(r[1], []).append(r[0])
    assert len(bursts) == pytest.approx(1800 / 30, abs=1)
    assert all(max(ts) - min(ts) < 15.0 for ts in bursts.values())


def test_doze_gaps_are_minutes_long() -> None:
    times = sorted(r[0] for r in emit_android_bz(_android(0.0, doze=True), 1.0, -127))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) >= 400  # an "off" Doze step of ~8-10 min


def test_passive_scanning_never_gets_scan_responses() -> None:
    active = sim("office", 3, 5, ios_bg_scan_rsp_share=1.0, adoption_ios=1.0)
    passive = sim("office", 3, 5, ios_bg_scan_rsp_share=1.0, adoption_ios=1.0, mode="passive")
    assert any(r[4] is not None for r in active.reports)
    assert all(r[4] is None for r in passive.reports)
    heard = [sum(w["heard"]["bluezone/ios_bg"] for w in s.truth.windows) for s in (active, passive)]
    assert heard[0] > 0 and heard[1] <= heard[0] // 5  # only overflow bits of other apps' in ADV


def test_truth_is_consistent() -> None:
    r = sim("market", 2, 5)
    s = r.truth.summary
    assert s["people"] == len(r.truth.visits) > 100
    assert s["smartphones"] == s["iphones"] + s["androids"]
    assert s["bluezone"] == sum(s["bluezone_by_stratum"].values())
    assert 0 < s["adoption_per_person"] < 1
    for w in r.truth.windows:
        assert w["people"] >= w["smartphones"] >= w["bluezone"]
        assert w["people"] >= w["people_mean"] > 0
        assert w["heard"]["iphone/all"] <= w["heard_any"]["iphone/all"]
    # Poisson arrivals with lognormal dwell reach a steady state from the first window.
    first, last = r.truth.windows[0]["people_mean"], r.truth.windows[-1]["people_mean"]
    assert 0.6 < first / last < 1.6


def test_scenarios_are_packaged_and_validated(tmp_path: Path) -> None:
    assert {"office", "market", "counter"} <= set(scenario_names())
    assert Path("config/scenarios/office.yaml").read_bytes() == (
        Path("scanner/simulator/scenarios/office.yaml").read_bytes()
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: office\nsmartphone_share: 1.5\n")
    with pytest.raises(ScenarioError, match="smartphone_share"):
        load_scenario(bad)
    bad.write_text("kind: office\nstafff: 3\n")
    with pytest.raises(ScenarioError, match="stafff"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="packaged"):
        load_scenario("no-such-site")


def test_bzscan_simulate_cli_errors_and_formats(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli.main import main

    runner = CliRunner()
    out = tmp_path / "c.jsonl"
    ok = runner.invoke(
        main,
        [
            "simulate",
            "--scenario",
            "counter",
            "--duration",
            "2m",
            "--out",
            str(out),
            "--truth",
            str(tmp_path / "t.json"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    first = out.read_text().splitlines()[0]
    assert first.startswith('{"t":') and '"adv":' in first
    bad = runner.invoke(main, ["simulate", "--scenario", "nowhere", "--out", str(out)])
    assert bad.exit_code == 1 and "packaged: counter, market, office" in bad.output
    bad = runner.invoke(main, ["simulate", "--start", "2020-08-10 01:00", "--out", str(out)])
    assert bad.exit_code == 2 and "UTC offset" in bad.output
    bad = runner.invoke(main, ["simulate", "--duration", "soon", "--out", str(out)])
    assert bad.exit_code == 2 and "bad duration" in bad.output
    bad = runner.invoke(main, ["simulate", "--truth-window", "7", "--out", str(out)])
    assert bad.exit_code == 2 and "900" in bad.output


def test_same_bytes_in_other_processes_and_hash_seeds(tmp_path: Path) -> None:
    """The demo simulates in worker processes: the output must not depend on the process."""
    import os
    import subprocess
    import sys

    bzscan = str(Path(sys.executable).with_name("bzscan"))
    digests = set()
    for hash_seed in ("1", "2"):
        out = tmp_path / f"o{hash_seed}.pcap"
        subprocess.run(
            [
                bzscan,
                "simulate",
                "--scenario",
                "office",
                "--seed",
                "5",
                "--duration",
                "3m",
                "--out",
                str(out),
            ],
            check=True,
            timeout=120,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        digests.add(_digest(out))
    from scanner.simulator.capture import simulate, write_simulation

    start = START - 7 * 60  # bzscan's default start, 2020-08-10T01:00:00Z
    result = simulate(load_scenario("office"), seed=5, start=start, duration_s=180)
    write_simulation(result, tmp_path / "inproc.pcap")
    assert digests == {_digest(tmp_path / "inproc.pcap")}
