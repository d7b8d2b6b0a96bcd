"""`bzscan --replay` with delivery: the pipeline feeds the node's outbox and publisher."""

from __future__ import annotations

import sys
from typing import Any

import click


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
