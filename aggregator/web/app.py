"""The dashboard's ASGI application: FastAPI routes behind the session gate."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from aggregator.web import api, forms, pages
from aggregator.web.auth import LoginLimiter, Signer
from aggregator.web.data import Figures
from aggregator.web.guard import Guard
from aggregator.web.render import DEFAULT_TZ
from aggregator.web.snapshots import Snapshots


@dataclass(frozen=True, slots=True)
class WebConfig:
    db: str | Path
    figures: Figures
    users_file: Path
    secret: bytes
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ))
    refresh_s: float = 5.0
    poll_s: float = 1.0
    session_max_age_s: int = 12 * 3600
    login_max_failures: int = 5
    login_window_s: float = 900.0
    clock: Callable[[], float] = time.time


def create_app(cfg: WebConfig) -> FastAPI:
    """The app; the store is opened (read-only) when it starts serving."""
    snapshots = Snapshots(cfg.db, cfg.figures, clock=cfg.clock, refresh_s=cfg.refresh_s,
                          poll_s=cfg.poll_s)  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await snapshots.start()
        try:
            yield
        finally:
            await snapshots.stop()

    app = FastAPI(
        title="bzagg web",
        summary="Bluezone adoption figures of `bzagg report`, live from the aggregator's store.",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema is enough
        redoc_url=None,
        lifespan=lifespan,
    )
    signer = Signer(cfg.secret, cfg.session_max_age_s)
    app.state.snapshots = snapshots
    app.state.signer = signer
    app.state.limiter = LoginLimiter(cfg.login_max_failures, cfg.login_window_s, cfg.clock)
    app.state.users_file = cfg.users_file
    app.state.tz = cfg.tz
    app.state.target = cfg.figures.target
    app.include_router(forms.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(packages=[("aggregator.web", "static")]), name="static")
    app.add_middleware(Guard, signer=signer)
    return app
