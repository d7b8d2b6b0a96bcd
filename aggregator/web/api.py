"""JSON API `/api/v1/...`: the figures of each page, described by the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from aggregator.web.data import Scope, known_scope
from aggregator.web.models import NodesView, ScopeView
from aggregator.web.snapshots import Snapshots

router = APIRouter(prefix="/api/v1", tags=["figures"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such district or site."}}
_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "No session: log in at /login first."}
}


def _snapshots(request: Request) -> Snapshots:
    snaps: Snapshots = request.app.state.snapshots
    return snaps


def _json(snaps: Snapshots, key: object, view: ScopeView | NodesView) -> Response:
    # The figures change only with the generation: serialise each view once, not per request.
    body = snaps.memo(("json", key, view.version), view.model_dump_json)
    return Response(body, media_type="application/json")


async def _scope(request: Request, scope: Scope) -> Response:
    snaps = _snapshots(request)
    if scope.kind != "province":
        province = await snaps.scope(Scope("province"))
        if not known_scope(scope, snaps.figures.registry, province.unregistered_sites):
            raise HTTPException(404, f"no {scope.kind} {scope.name!r}")
    return _json(snaps, scope, await snaps.scope(scope))


@router.get("/province", response_model=ScopeView, responses=_LOGIN)
async def province(request: Request) -> Response:
    """The province: headline against the target, districts ranked, trend by day."""
    return await _scope(request, Scope("province"))


@router.get("/districts/{name}", response_model=ScopeView, responses={**_LOGIN, **_NOT_FOUND})
async def district(request: Request, name: str) -> Response:
    """One district: its sites ranked, its visits (site and day), trend, node coverage."""
    return await _scope(request, Scope("district", name))


@router.get("/sites/{site_id}", response_model=ScopeView, responses={**_LOGIN, **_NOT_FOUND})
async def site(request: Request, site_id: str) -> Response:
    """One site: its visits by day and the nodes that measured it."""
    return await _scope(request, Scope("site", site_id))


@router.get("/nodes", response_model=NodesView, responses=_LOGIN)
async def nodes(request: Request) -> Response:
    """Every node: retained status, last seen, seq gaps, rejects by reason, clock state."""
    snaps = _snapshots(request)
    return _json(snaps, snaps.nodes_stamp(), await snaps.nodes())
