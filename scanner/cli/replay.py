"""`bzscan --replay FILE`: replay a capture through the counting pipeline, optionally delivered."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from scanner.ble.signatures import SignatureError


def run_replay(kw: dict[str, Any]) -> None:
    """Run a replay from the parsed command line and print its summary."""
    from scanner.node.run_replay import (
        RunOptions,
        build_pipeline,
        default_sinks,
        replay_file,
        summary_caveats,
        summary_text,
    )

    opts = RunOptions.from_cli(kw)
    from scanner.node.delivery import DeliveryConfigError

    try:
        delivery_opts = None if kw["dry_run"] else delivery_options(kw, replay=True)
        if delivery_opts is None:
            pipeline = build_pipeline(
                opts, default_sinks(opts), mode="replay", keep_reports=opts.headcount is not None
            )
            result = asyncio.run(replay_file(pipeline, kw["replay"], opts))
        else:
            result = asyncio.run(replay_delivered(opts, delivery_opts))
    except DeliveryConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except SignatureError as exc:
        # A bad signature file is bad configuration: exit 2 like any other bad option.
        raise click.BadParameter(str(exc), param_hint="--signatures") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot read {kw['replay']}: {exc}") from exc
    from scanner.node.output import legend_text

    legend = legend_text(kw["as_json"]) if result.summary.windows else None
    if legend is not None:
        click.echo(legend)
    click.echo(summary_text(result), err=kw["as_json"])
    for line in summary_caveats(result):
        click.echo(f"bzscan: {line}", err=True)
    if kw["headcount"] is not None and result.summary.reports:
        # A replayed inspector visit gets the same end-of-visit estimate as a live one.
        from scanner.estimation.visit import visit_summary

        summary = visit_summary(
            result.summary.reports,
            headcount=kw["headcount"],
            site_type=kw.get("site_type"),
            smartphones=kw.get("smartphones"),
        )
        for line in summary.lines():
            click.echo(line, err=kw["as_json"])


def delivery_options(kw: dict[str, Any], *, replay: bool) -> Any:
    from scanner.node.delivery import delivery_options_from_cli

    return delivery_options_from_cli(kw, replay=replay)


async def replay_delivered(opts: Any, delivery_opts: Any) -> Any:
    from scanner.node.delivery import Delivery
    from scanner.node.run_replay import build_pipeline, default_sinks, replay_file

    async with Delivery(delivery_opts) as d:
        pipeline = build_pipeline(
            opts,
            [*default_sinks(opts), d.sink],
            mode="replay",
            next_seq=d.next_seq,
            outbox_dropped=d.dropped,
            keep_reports=opts.headcount is not None,
        )
        result = await replay_file(pipeline, opts.replay, opts)
    if d.unsent or d.unconfirmed:
        click.echo(f"bzscan: {d.unsent_message()}", err=True)
        if delivery_opts.broker is not None:
            sys.exit(1)
    return result
