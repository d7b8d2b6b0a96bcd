"""`bzscan calibrate`: propose the RSSI gate from a reference phone walked along the boundary."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
import yaml

from scanner.clikit.types import DURATION
from scanner.counting.calibration import GateCalibrator, GateProposal


@click.command("calibrate")
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Calibrate from a recorded capture of the walk instead of scanning.",
)
@click.option("--duration", type=DURATION, default=60.0, show_default=True,
              help="Live: how long the walk lasts (e.g. 1m).")  # fmt: skip
@click.option("--adapter", default=None, help="Live: adapter to use, e.g. hci1.")
@click.option(
    "--write",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Node config file (YAML) that gets `rssi_min` on confirmation.",
)
@click.option("--yes", is_flag=True, help="Write without asking.")
def calibrate_cmd(**kw: Any) -> None:
    """Walk a phone running Bluezone along the site boundary; the strongest steady device's
    median RSSI is proposed as the gate (`--rssi-min`)."""
    from scanner.ble.classify import Classifier

    classifier = Classifier()
    cal = GateCalibrator()
    if kw["replay"] is not None:
        from scanner.sources.replay.reader import read_capture

        try:
            for a in read_capture(kw["replay"]):
                cal.add(a.t, a.rssi_dbm, classifier.classify_raw(a.adv, a.scan_rsp, a.address))
        except OSError as exc:
            raise click.ClickException(f"cannot read {kw['replay']}: {exc}") from exc
    else:
        from scanner.sources.live.bleak_scan import ScanError

        click.echo(
            f"walk the reference phone along the boundary for {kw['duration']:g} s", err=True
        )
        try:
            asyncio.run(_live(cal, classifier, kw["duration"], kw["adapter"]))
        except ScanError as exc:
            raise click.ClickException(str(exc)) from exc
    prop = cal.proposal()
    cal.forget()
    if prop is None:
        raise click.ClickException(
            "no steady device heard: walk closer to the node or for longer, then try again"
        )
    click.echo(_describe(prop))
    path = kw["config_path"]
    if path is None:
        click.echo(f"use it with: bzscan --rssi-min {prop.gate_dbm} ...")
        return
    if kw["yes"] or click.confirm(f"write rssi_min: {prop.gate_dbm} to {path}?", default=True):
        _write_gate(path, prop.gate_dbm)
        click.echo(f"wrote rssi_min: {prop.gate_dbm} to {path}")


def _describe(p: GateProposal) -> str:
    return (
        f"proposed RSSI gate: {p.gate_dbm} dBm (reference median {p.median_dbm:.1f} dBm over "
        f"{p.packets} packets, heard in {100 * p.steady_share:.0f} % of the walk; "
        f"{p.devices} devices heard in {p.seconds:.0f} s)"
    )


def _write_gate(path: Path, gate: int) -> None:
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--write") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise click.BadParameter(f"{path}: expected a mapping", param_hint="--write")
        data = loaded or {}
    for k in ("rssi-min", "rssi_min", "rssi_min_dbm"):
        data.pop(k, None)
    data["rssi_min"] = gate
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


async def _live(
    cal: GateCalibrator, classifier: Any, duration_s: float, adapter: str | None
) -> None:
    from scanner.sources.live.bleak_scan import LiveSource

    source = LiveSource(mode="active", adapter=adapter)
    await source.start()
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s
        while loop.time() < end:
            await asyncio.sleep(min(1.0, max(0.0, end - loop.time())))
            for a in source.drain():
                cal.add(a.t, a.rssi_dbm, classifier.classify(a, a.address))
            # BlueZ merges repeated adverts; forgetting makes each device report again.
            await source.forget()
    finally:
        await source.stop()
    for a in source.drain():
        cal.add(a.t, a.rssi_dbm, classifier.classify(a, a.address))
