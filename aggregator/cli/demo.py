"""`bzagg demo`: the whole system in one command (registered on the `bzagg` group)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from scanner.clikit.types import LANG_HELP, LANGS


@click.command("demo")
@click.option("--quick", is_flag=True, help="A few minutes of three sites (tests, first look).")
@click.option(
    "--broker", default=None, help="Use this broker (mqtt://host:port) instead of the embedded one."
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bzagg-demo"),
    show_default=True,
    help="Captures, node outboxes, the store and the site list go here.",
)
@click.option(
    "--out",
    "html",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("demo-report.html"),
    show_default=True,
    help="HTML report.",
)
@click.option("--seed", type=int, default=2020, show_default=True, help="Simulation seed.")
@click.option("--lang", type=LANGS, default="en", show_default=True, help=LANG_HELP)
@click.option(
    "--province",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Sites and nodes to simulate (default: the packaged province).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bars on stderr.")
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Simulation processes (default 2; 0 runs them in this process).",
)
def demo(
    quick: bool,
    broker: str | None,
    workdir: Path,
    html: Path,
    seed: int,
    lang: str,
    province: Path | None,
    progress: bool | None,
    workers: int | None,
) -> None:
    """Simulate a province's day and run it through scanner, MQTT, store and report."""
    from aggregator.demo.plan import DemoError
    from aggregator.demo.run import DemoOptions, run_demo
    from scanner.wire.broker import BrokerConfigError

    opts = DemoOptions(
        workdir=workdir,
        html=html,
        broker=broker,
        quick=quick,
        seed=seed,
        lang=lang,
        province=province,
        progress=sys.stderr.isatty() if progress is None else progress,
        workers=workers,
    )
    try:
        result = asyncio.run(run_demo(opts))
    except (DemoError, BrokerConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    except TimeoutError as exc:
        raise click.ClickException(f"the broker did not answer: {broker or 'embedded'}") from exc
    click.echo(result.report_text)
    click.echo("Pooled district and province figures against the simulation's truth (same "
               "population: smartphone owners present, person-time weighted):")  # fmt: skip
    click.echo(result.pooled_text + "\n")
    click.echo("Ground truth of the simulation (what the estimates above should find):")
    click.echo(result.truth_text)
    click.echo(
        f"\n{result.adverts:,} adverts -> {result.windows_published} windows published, "
        f"{result.windows_stored} stored in {result.db} in {result.elapsed_s:.1f} s; "
        f"HTML report: {result.html}\n"
        f"More: bzagg report --db {result.db} --sites-file {result.sites_file} --by site"
    )
    if result.late_pubacks:
        click.echo(_late_note(result.late_pubacks, lang), err=True)


def _late_note(n: int, lang: str) -> str:
    if lang == "vi":
        return (f"Ghi chú: {n} lần broker nhúng chờ PUBACK của bộ tổng hợp quá 5 s (máy bận); "
                "nút giữ mỗi cửa sổ đến khi bộ tổng hợp xác nhận đã lưu; số đã gửi và số đã lưu "
                "ở trên cho biết có thiếu cửa sổ nào không.")  # fmt: skip
    return (f"Note: the embedded broker waited over 5 s for the aggregator's PUBACK {n} time(s) "
            "(a busy machine); nodes keep each window until the aggregator confirms it "
            "stored it, and the published and stored counts above say whether any is "
            "missing.")  # fmt: skip
