"""The three forms: log in, log out, switch language. Each carries a CSRF token it must match."""

from __future__ import annotations

import math
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from aggregator.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    Session,
    Signer,
    load_users,
    same_token,
    verify,
)
from aggregator.web.render import LANG_COOKIE, render

router = APIRouter(include_in_schema=False)
_YEAR_S: Final = 365 * 86400


def safe_next(value: Any) -> str:
    """Only a path on this site: never `//host` or `https://...` (an open redirect)."""
    v = str(value or "/")
    if not v.startswith("/") or v.startswith("//") or "\\" in v or "\n" in v or "\r" in v:
        return "/"
    return v


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    # Secure when the request came over TLS (uvicorn takes the scheme from the trusted proxy's
    # X-Forwarded-Proto); SameSite=Strict: no cross-site request ever carries it.
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")  # fmt: skip


def _login_form(request: Request, status_code: int = 200, message: str | None = None,
                **fmt: Any) -> HTMLResponse:  # fmt: skip
    signer: Signer = request.app.state.signer
    cookie, token = signer.login_cookie()
    response = render(request, "login.html", status_code=status_code, csrf=token,
                      message=message, message_fmt=fmt,
                      next=safe_next(request.query_params.get("next")))  # fmt: skip
    _cookie(response, request, LOGIN_COOKIE, cookie, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    if request.scope["state"].get("session") is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    return _login_form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    signer: Signer = request.app.state.signer
    limiter: LoginLimiter = request.app.state.limiter
    if not same_token(str(form.get("csrf", "")),
                      signer.login_token(request.cookies.get(LOGIN_COOKIE))):  # fmt: skip
        return _login_form(request, 403, "expired_form")
    user = str(form.get("user", ""))[:64]
    client = request.client.host if request.client else "?"
    wait = limiter.retry_after(client, user)
    if wait is not None:
        refused = _login_form(request, 429, "too_many", minutes=math.ceil(wait / 60))
        refused.headers["retry-after"] = str(math.ceil(wait))
        return refused
    users = load_users(request.app.state.users_file)
    password = str(form.get("password", ""))
    if not await run_in_threadpool(verify, users, user, password):
        limiter.failed(client, user)
        return _login_form(request, 401, "bad_login")
    limiter.succeeded(user)
    response = RedirectResponse(safe_next(form.get("next")), 303)
    _cookie(response, request, SESSION_COOKIE, signer.session_cookie(user), signer.max_age_s)
    response.delete_cookie(LOGIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    session: Session = request.scope["state"]["session"]
    if not same_token(str(form.get("csrf", "")), session.csrf):
        return Response("bad form token", status_code=403)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")  # fmt: skip
    return response


@router.post("/lang")
async def switch_language(request: Request) -> Response:
    """Also on the login page, so the token is the session's or the login form's."""
    form = await request.form()
    session: Session | None = request.scope["state"].get("session")
    signer: Signer = request.app.state.signer
    expected = session.csrf if session else signer.login_token(request.cookies.get(LOGIN_COOKIE))
    if not same_token(str(form.get("csrf", "")), expected):
        return Response("bad form token", status_code=403)
    lang = "en" if form.get("lang") == "en" else "vi"
    response = RedirectResponse(safe_next(form.get("next")), 303)
    _cookie(response, request, LANG_COOKIE, lang, _YEAR_S)
    return response
