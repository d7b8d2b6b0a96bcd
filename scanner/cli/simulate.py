"""`bzscan simulate`: a simulated capture of a site and its ground truth (a `bzscan` command)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click

from scanner.clikit.types import DURATION
from scanner.wire.schema import SLOT_SECONDS

_FORMATS = ("pcap", "pcapng", "btsnoop", "jsonl")


def _start(ctx: click.Context, param: click.Parameter, value: str) -> float:
    text = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: use UTC ISO 8601, e.g. 2020-08-10T01:00:00Z") from exc
    if dt.tzinfo is None:
        raise click.BadParameter(f"{value!r}: give a UTC offset, e.g. 2020-08-10T01:00:00Z")
    return dt.timestamp()


@click.command("simulate")
@click.option(
    "--scenario",
    default="office",
    show_default=True,
    help="Packaged scenario (office, market, counter) or a YAML file.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same file)."
)
@click.option(
    "--duration",
    "duration_s",
    type=DURATION,
    default="30m",
    show_default=True,
    help="Simulated time, e.g. 30m, 90s, 2h.",
)
@click.option(
    "--start",
    "start",
    default="2020-08-10T01:00:00Z",
    callback=_start,
    show_default=True,
    help="Start of the capture (UTC).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Capture file: .pcap (link type 256), .pcapng, .btsnoop or .jsonl.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    default=None,
    help="Override the format implied by the file suffix.",
)
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the ground truth here (JSON).",
)
@click.option(
    "--truth-window",
    type=int,
    default=60,
    show_default=True,
    help="Window length of the per-window truth; must divide 900.",
)
@click.option(
    "--scan-mode",
    type=click.Choice(["active", "passive"]),
    default=None,
    help="Override the scenario's scan mode (passive: no scan responses).",
)
def simulate_cmd(
    scenario: str,
    seed: int,
    duration_s: float,
    start: float,
    out: Path,
    fmt: str | None,
    truth_path: Path | None,
    truth_window: int,
    scan_mode: str | None,
) -> None:
    """Simulate a site with known truth and write it as a capture file.

    The capture holds (simulated) addresses and Bluezone IDs like a real recording would.
    """
    from scanner.simulator.capture import simulate, write_simulation
    from scanner.simulator.model import ScenarioError, load_scenario

    if truth_window <= 0 or SLOT_SECONDS % truth_window:
        raise click.BadParameter(
            f"{truth_window} does not divide {SLOT_SECONDS}", param_hint="--truth-window"
        )
    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from exc
    if scan_mode is not None:
        sc = sc.with_overrides(mode=scan_mode)
    t0 = time.monotonic()
    result = simulate(sc, seed=seed, start=start, duration_s=duration_s, window_s=truth_window)
    try:
        n = write_simulation(result, out, truth_path, fmt=fmt)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    s = result.truth.summary
    click.echo(
        f"simulated {sc.name} (seed {seed}) for {duration_s:.0f} s: {n} adverts -> {out} "
        f"in {time.monotonic() - t0:.2f} s; truth: {s['people']} people, {s['smartphones']} "
        f"smartphones, {s['bluezone']} Bluezone users, adoption {s['adoption_per_person']} "
        f"per person / {s['adoption_person_time']} person-time"
        + (f"; truth -> {truth_path}" if truth_path else ""),
        err=True,
    )
