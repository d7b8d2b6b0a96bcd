"""Jinja2 templates packaged with the code (importlib.resources through PackageLoader)."""

from __future__ import annotations

import functools
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aggregator.web import i18n, svg
from aggregator.web.auth import Session

LANG_COOKIE: Final = "bzagg_lang"
DEFAULT_TZ: Final = "Asia/Ho_Chi_Minh"


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE)
    return lang if lang in ("vi", "en") else "vi"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("aggregator.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(pct=i18n.pct, day=i18n.day, ranked_chart=svg.ranked_chart,
                       trend_chart=svg.trend_chart, status_colors=svg.COLORS)  # fmt: skip
    return env


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page, or only its <main> content when the live-update script asks for it."""
    lang = context.pop("lang", None) or lang_of(request)
    session: Session | None = request.scope.get("state", {}).get("session")
    tz: ZoneInfo = getattr(request.app.state, "tz", ZoneInfo(DEFAULT_TZ))
    ctx = {
        "lang": lang,
        "t": lambda key, **fmt: i18n.t(key, lang, **fmt),
        "when": lambda epoch: i18n.local_time(epoch, tz, lang),
        "session": session,
        "csrf": context.pop("csrf", None) or (session.csrf if session else ""),
        "path": request.url.path,
        "target": getattr(request.app.state, "target", None),
        "version": 0,
        "message": None,
        **context,
    }
    template = environment().get_template(name)
    if request.headers.get("x-bzagg-partial") and "main" in template.blocks:
        body = "".join(template.blocks["main"](template.new_context(ctx)))
    else:
        body = template.render(ctx)
    return HTMLResponse(body, status_code=status_code,
                        headers={"x-bzagg-version": str(ctx["version"])})  # fmt: skip
