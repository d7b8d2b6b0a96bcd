"""Jinja2 templates packaged with the code (importlib.resources through PackageLoader)."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

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


def render(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    main_key: Hashable | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page, or only its <main> content when the live-update script asks for it.

    With `main_key` (which must change whenever the figures or the language do), the <main>
    content is rendered once and kept; only the shell (user, form tokens) is rendered per request.
    """
    lang = context.pop("lang", None) or lang_of(request)
    session: Session | None = request.scope.get("state", {}).get("session")
    tz: ZoneInfo = getattr(request.app.state, "tz", ZoneInfo(DEFAULT_TZ))
    ctx = {
        "lang": lang,
        "t": lambda key, **fmt: i18n.t(key, lang, **fmt),
        "when": lambda epoch: i18n.local_time(epoch, tz, lang),
        "tz_name": tz.key,
        "session": session,
        "csrf": context.pop("csrf", None) or (session.csrf if session else ""),
        "path": request.url.path,
        "target": getattr(request.app.state, "target", None),
        "version": 0,
        "message": None,
        **context,
    }
    env = environment()
    template = env.get_template(name)
    partial = bool(request.headers.get("x-bzagg-partial")) and "main" in template.blocks
    if main_key is not None:
        snaps = request.app.state.snapshots
        main = snaps.memo(
            (name, lang, main_key),
            lambda: Markup("".join(template.blocks["main"](template.new_context(ctx)))),
        )
        body = str(main) if partial else env.get_template("shell.html").render(ctx, main=main)
    elif partial:
        body = "".join(template.blocks["main"](template.new_context(ctx)))
    else:
        body = template.render(ctx)
    return HTMLResponse(body, status_code=status_code,
                        headers={"x-bzagg-version": str(ctx["version"])})  # fmt: skip
