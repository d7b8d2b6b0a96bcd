"""HTML pages: province, district, site, nodes; the live-update stream. Tables need no script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from aggregator.web.data import Scope, known_scope
from aggregator.web.i18n import t
from aggregator.web.render import lang_of, render
from aggregator.web.snapshots import Snapshots

router = APIRouter(include_in_schema=False)
PARTIAL_HEADER: Final = "x-bzagg-partial"
PING_SECONDS: Final = 15.0


def _snapshots(request: Request) -> Snapshots:
    snaps: Snapshots = request.app.state.snapshots
    return snaps


async def _scope_page(request: Request, scope: Scope) -> HTMLResponse:
    snaps = _snapshots(request)
    if scope.kind != "province":
        province = await snaps.scope(Scope("province"))
        if not known_scope(scope, snaps.figures.registry, province.unregistered_sites):
            return render(request, "error.html", status_code=404, message="not_found")
    view = await snaps.scope(scope)
    # Node health on this page is as of its figures' generation (the Nodes page re-ranks more
    # often), so a time tick never re-renders every large district page at once.
    live = {} if scope.kind == "province" else {n.node: n for n in (await snaps.nodes()).nodes}
    return render(request, "scope.html", view=view, version=view.version, live_nodes=live,
                  title=view.title or t("province", lang_of(request)),
                  main_key=(scope, view.version))  # fmt: skip


@router.get("/", response_class=HTMLResponse)
async def province(request: Request) -> HTMLResponse:
    return await _scope_page(request, Scope("province"))


@router.get("/district/{name}", response_class=HTMLResponse)
async def district(request: Request, name: str) -> HTMLResponse:
    return await _scope_page(request, Scope("district", name))


@router.get("/site/{site_id}", response_class=HTMLResponse)
async def site(request: Request, site_id: str) -> HTMLResponse:
    return await _scope_page(request, Scope("site", site_id))


@router.get("/nodes", response_class=HTMLResponse)
async def nodes(request: Request) -> HTMLResponse:
    snaps = _snapshots(request)
    view = await snaps.nodes()
    title = t("nodes_page", lang_of(request))
    return render(request, "nodes.html", view=view, version=view.version, title=title,
                  main_key=snaps.nodes_stamp())  # fmt: skip


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: the store generation, each time new figures are ready."""
    snaps = _snapshots(request)

    async def stream() -> AsyncIterator[str]:
        gen = snaps.generation
        yield f"retry: 3000\nevent: version\ndata: {gen}\n\n"
        while not await request.is_disconnected():
            new = await snaps.wait_for_change(gen, PING_SECONDS)
            if new != gen:
                gen = new
                yield f"event: version\ndata: {gen}\n\n"
            else:
                yield ": ping\n\n"

    # X-Accel-Buffering: nginx would otherwise hold the events back in its buffer.
    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})  # fmt: skip
