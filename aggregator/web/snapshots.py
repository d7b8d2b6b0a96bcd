"""Computed pages, kept until the store changes: one read-only store, one worker thread.

Pages are served from the last computed figures, so a request never waits for the report
query once its page has been computed. A watcher polls the store's data version; when
`bzagg serve` has committed new windows it recomputes the pages people are looking at (at most
once per `refresh_s`) and only then announces a new generation, so a browser told to update
fetches figures that already include the new windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aggregator.store import open_store
from aggregator.store.interface import WindowStore
from aggregator.web.data import Figures, Scope, build_scope
from aggregator.web.models import NodesView, ScopeView
from aggregator.web.nodes import build_nodes, rank

log = logging.getLogger(__name__)
T = TypeVar("T")
_NODES = Scope("province", "\0nodes")  # cache key of the Nodes page
RERANK_SECONDS = 30.0


def open_read_only(target: str | Path) -> WindowStore:
    """The dashboard's only way into the store: read-only (SQLite `mode=ro`, PostgreSQL READ
    ONLY transactions), so nothing it runs can write."""
    return open_store(target, read_only=True)


@dataclass(slots=True)
class _Entry:
    view: Any
    used_at: float


class Snapshots:
    def __init__(
        self,
        db: str | Path,
        figures: Figures,
        *,
        clock: Callable[[], float] = time.time,
        refresh_s: float = 5.0,
        poll_s: float = 1.0,
        hot_s: float = 900.0,
        max_pages: int = 256,
    ) -> None:
        self.db = db
        self.figures = figures
        self.clock = clock
        self.refresh_s = refresh_s
        self.poll_s = poll_s
        self.hot_s = hot_s
        self.max_pages = max_pages
        self.generation = 1
        self._store: WindowStore | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="bzagg-web-store")
        self._cache: OrderedDict[Scope, _Entry] = OrderedDict()
        self._locks: dict[Scope, asyncio.Lock] = {}
        self._changed = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._ranked: tuple[tuple[int, int], NodesView, NodesView] | None = None
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def start(self) -> None:
        """Open the store (raises its StoreError when it cannot) and start watching it."""

        def _open() -> str:
            self._store = store = open_read_only(self.db)
            return store.data_version()

        self._seen_version = await self._run(_open)
        self._watcher = asyncio.create_task(self._watch(), name="bzagg-web-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._store is not None:
            await self._run(self._store.close)
        self._pool.shutdown(wait=True)

    # -- pages -----------------------------------------------------------------------------------

    async def scope(self, scope: Scope) -> ScopeView:
        view: ScopeView = await self._get(scope)
        return view

    async def nodes(self) -> NodesView:
        view: NodesView = await self._get(_NODES)
        # Silence grows while nothing is stored: rank again, every RERANK_SECONDS.
        stamp = self.nodes_stamp()
        if self._ranked is None or self._ranked[0] != stamp or self._ranked[1] is not view:
            ranked = view.model_copy(update={"nodes": rank(view.nodes, self.clock())})
            self._ranked = (stamp, view, ranked)
        return self._ranked[2]

    def nodes_stamp(self) -> tuple[int, int]:
        """Changes whenever the Nodes figures may: new generation or a new re-rank period."""
        return self.generation, int(self.clock() // RERANK_SECONDS)

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """A rendered page or JSON body, kept while its key (with the generation) is asked for."""
        if key in self._memo:
            self._memo.move_to_end(key)
            value: T = self._memo[key]
            return value
        value = make()
        self._memo[key] = value
        while len(self._memo) > 4 * self.max_pages:
            self._memo.popitem(last=False)
        return value

    async def _get(self, key: Scope) -> Any:
        entry = self._cache.get(key)
        if entry is None:
            async with self._locks.setdefault(key, asyncio.Lock()):
                entry = self._cache.get(key)
                if entry is None:
                    gen = self.generation
                    entry = _Entry(await self._run(lambda: self._compute(key, gen)), 0.0)
                    self._cache[key] = entry
                    while len(self._cache) > self.max_pages:
                        self._cache.popitem(last=False)
        entry.used_at = self.clock()
        self._cache.move_to_end(key)
        return entry.view

    def _live(self) -> WindowStore:
        if self._store is None:
            raise RuntimeError("the dashboard's store is not open (Snapshots.start)")
        return self._store

    def _compute(self, key: Scope, generation: int) -> Any:
        now, store = self.clock(), self._live()
        if key == _NODES:
            return build_nodes(store, self.figures.registry, version=generation, now=now)
        return build_scope(store, self.figures, key, version=generation, now=now)

    # -- watching the store ----------------------------------------------------------------------

    async def wait_for_change(self, after: int, timeout_s: float) -> int:
        """The generation once it is past `after`, or the current one after `timeout_s`."""
        if self.generation <= after:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout_s)
        return self.generation

    async def _watch(self) -> None:
        last_refresh = self.clock()
        pending = failing = False
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                version = await self._run(lambda: self._live().data_version())
                if version != self._seen_version:
                    self._seen_version, pending = version, True
                if pending and self.clock() - last_refresh >= self.refresh_s:
                    pending = False
                    last_refresh = self.clock()
                    await self._refresh()
                if failing:
                    failing = False
                    log.warning("dashboard refreshes again from %s", self.db)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep serving the last figures; say so once per failure
                if not failing:
                    failing = True
                    log.exception("cannot refresh the dashboard from %s", self.db)
                pending = True
                await asyncio.sleep(self.refresh_s)

    async def _refresh(self) -> None:
        now = self.clock()
        hot = [k for k, e in self._cache.items() if now - e.used_at <= self.hot_s]
        for k in [k for k in self._cache if k not in hot]:
            del self._cache[k]
        gen = self.generation + 1
        fresh = {}
        for key in hot:
            fresh[key] = await self._run(lambda key=key: self._compute(key, gen))  # type: ignore[misc]
        for key, view in fresh.items():
            if key in self._cache:
                self._cache[key].view = view
        self.generation = gen
        log.debug("dashboard generation %d: %d pages recomputed", gen, len(fresh))
        self._changed.set()
        self._changed = asyncio.Event()
