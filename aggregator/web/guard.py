"""The gate in front of every route: session required, cross-site writes refused, strict headers.

A pure ASGI middleware (no response buffering, so the event stream passes through). Only the
login form and the packaged static files answer without a session.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.web.auth import SESSION_COOKIE, Signer

# Everything from this origin only; no inline script or style, no framing, forms post here only.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS: Final = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), serial=()",
}
PUBLIC_PATHS: Final = frozenset({"/login", "/lang"})
PUBLIC_PREFIXES: Final = ("/static/",)
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def wants_json(path: str) -> bool:
    return path.startswith("/api/") or path == "/events"


def cross_site(request: Request) -> bool:
    """A write a browser sent from another site (Fetch Metadata, else the Origin header)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not a browser form post; the form's CSRF token still has to match
    parts = urlsplit(origin)
    own_host = request.headers.get("host", "")
    return parts.scheme != request.url.scheme or parts.netloc != own_host


class Guard:
    def __init__(self, app: ASGIApp, signer: Signer) -> None:
        self.app = app
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path: str = scope["path"]
        session = self.signer.session(request.cookies.get(SESSION_COOKIE))
        scope.setdefault("state", {})["session"] = session
        static = path.startswith(PUBLIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in HEADERS.items():
                    headers.setdefault(k, v)
                if not static:
                    headers["cache-control"] = "no-store"
            await send(message)

        response: Response | None = None
        if session is None and not is_public(path):
            if wants_json(path):
                response = JSONResponse(
                    {"detail": "login required"},
                    status_code=401,
                    headers={"www-authenticate": 'Cookie realm="bzagg"'},
                )
            else:
                target = path + (f"?{scope['query_string'].decode('latin-1')}"
                                 if scope.get("query_string") else "")  # fmt: skip
                response = RedirectResponse("/login?next=" + quote(target, safe=""), 303)
        elif request.method not in _SAFE_METHODS and cross_site(request):
            response = PlainTextResponse("cross-site request refused", status_code=403)
        if response is not None:
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
