"""`bzagg serve --workers N`: N subscriber processes on one MQTT shared subscription.

One Python process tops out at a few thousand windows a second, most of it spent parsing MQTT
packets and validating windows under one GIL (docs/deployment.md §5.5). Workers are whole
`serve` processes, each with its own MQTT client (client id `<id>-<k>`), its own persistent
session and its own store connection, on `$share/<group>/…` (the group defaults to the client
id): the broker hands each window to one of them, each commits before it acknowledges, and the
store's idempotency key keeps a redelivered window stored once, as with several aggregators.

This parent only supervises: it prepares the store (schema, migrations) before the workers
start, so they never race to create it; restarts a worker that dies; passes SIGINT/SIGTERM on
and waits for every worker to commit and stop. A worker whose parent is gone stops by itself,
so a restarted `serve` never finds old workers holding its client ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.process import BaseProcess
from types import FrameType

from aggregator.ingest.serve import ServeOptions, serve
from aggregator.store import open_store

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0


def worker_options(opts: ServeOptions, workers: int) -> list[ServeOptions]:
    """Each worker's options: its own client id, all on one share group."""
    group = opts.share_group or opts.client_id
    return [
        replace(opts, client_id=f"{opts.client_id}-{k}", share_group=group)
        for k in range(1, workers + 1)
    ]


def serve_workers(opts: ServeOptions, workers: int, echo: Callable[[str], None]) -> None:
    """Run `workers` serve processes until SIGINT/SIGTERM (or each one's `duration_s`)."""
    open_store(opts.db).close()  # schema and migrations, once, before any worker writes
    ctx = multiprocessing.get_context("fork")  # no threads yet: the workers start from here
    parent = os.getpid()
    procs: dict[int, BaseProcess] = {}
    stopping = threading.Event()

    def start(k: int, o: ServeOptions) -> None:
        p = ctx.Process(target=_worker, args=(o, parent, echo), name=o.client_id, daemon=False)
        p.start()
        procs[k] = p

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for p in procs.values():
            if p.pid is not None and p.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGTERM)

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    each = worker_options(opts, workers)
    echo(f"bzagg: {workers} workers on share group {each[0].share_group}")
    try:
        for k, o in enumerate(each):
            start(k, o)
        while procs:
            multiprocessing.connection.wait([p.sentinel for p in procs.values()], timeout=1.0)
            for k, p in list(procs.items()):
                if p.exitcode is None:
                    continue
                del procs[k]
                if stopping.is_set() or (opts.duration_s is not None and p.exitcode == 0):
                    continue
                log.warning("serve: worker %s exited (%s); restarting it", p.name, p.exitcode)
                time.sleep(RESTART_DELAY_S)
                start(k, each[k])
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for p in procs.values():
            p.join()


def _worker(opts: ServeOptions, parent: int, echo: Callable[[str], None]) -> None:
    # Not the parent's handlers (they signal the siblings); serve() installs its own. Ctrl-C
    # reaches the whole process group, so a worker stops on it by itself, as on SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    asyncio.run(serve(opts, echo))


def _orphan_watch(parent: int) -> None:
    """SIGTERM ourselves when the parent is gone (killed with SIGKILL, say)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
