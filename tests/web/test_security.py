"""Access control against the real server: sessions, rate limits, CSRF, cookie flags, CSP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aggregator.web.guard import CSP
from tests.report.conftest import seed_store
from tests.web.conftest import PASSWORD, USER, WebServer, csrf_of, login, start_web

PAGES = ["/", "/nodes", "/district/Ninh%20H%E1%BA%A3i", "/site/ptc-market-01", "/no-such-page"]
JSON = ["/api/v1/province", "/api/v1/nodes", "/api/v1/districts/Ninh%20H%E1%BA%A3i", "/events",
        "/api/v1/sites/ptc-market-01", "/api/v1/openapi.json", "/api/v1/nope"]  # fmt: skip


def _routes() -> set[str]:
    """Every route the app declares (its own and its routers'), path parameters filled in."""
    from aggregator.sites import load_registry
    from aggregator.web import Figures, WebConfig, api, create_app, forms, pages
    from scanner.estimation.params import load_params

    fig = Figures(load_registry(None), load_params(None))
    app = create_app(WebConfig(Path("x"), fig, Path("u"), b"k" * 32))
    routes = [*app.routes, *forms.router.routes, *pages.router.routes, *api.router.routes]
    paths = {str(getattr(r, "path", "")) for r in routes} - {""}
    return {p.replace("{name}", "x").replace("{site_id}", "x") for p in paths}


def _session_flags(r: httpx.Response) -> set[str]:
    (cookie,) = [c for c in r.headers.get_list("set-cookie") if c.startswith("bzagg_session=")]
    return {f.strip().lower() for f in cookie.split(";")[1:]}


def test_every_route_needs_a_session(web: WebServer) -> None:
    routes = _routes()
    # Only the login form, the language switch of the login page and packaged CSS/JS are public.
    public = {"/login", "/lang", "/static"}
    assert public <= routes
    with web.client(follow_redirects=False) as c:
        for path in sorted((routes - public) | set(PAGES) | set(JSON)):
            r = c.get(path)
            if path.startswith("/api/") or path == "/events":
                assert r.status_code == 401, path
                assert r.json() == {"detail": "login required"}
            else:
                assert r.status_code == 303, path
                assert r.headers["location"].startswith("/login?next="), path
            assert r.headers["content-security-policy"] == CSP
        for method in ("POST", "PUT", "DELETE"):
            assert c.request(method, "/api/v1/province").status_code == 401
        # A forged or tampered cookie is no session.
        c.cookies.set("bzagg_session", "eyJ1IjoiYWxpY2UifQ.forged.sig")
        assert c.get("/api/v1/province").status_code == 401


def test_login_gives_a_strict_httponly_session(web: WebServer) -> None:
    with web.client() as c:
        r = login(c, USER, PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/"
        flags = _session_flags(r)
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert "secure" not in flags  # plain http on loopback: a Secure cookie would never return
        assert c.get("/api/v1/province").status_code == 200
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text and " style=" not in page.text  # CSP-clean markup
        static = c.get("/static/live.js")
        assert static.status_code == 200 and static.headers["content-security-policy"] == CSP


def test_cookie_is_secure_behind_the_tls_proxy(web: WebServer) -> None:
    # The proxy on loopback (trusted by --forwarded-allow-ips) says the browser used https.
    with web.client() as c:
        r = login(c, USER, PASSWORD, **{"x-forwarded-proto": "https"})
        assert r.status_code == 303
        assert {"secure", "httponly", "samesite=strict"} <= _session_flags(r)


def test_cross_site_posts_are_refused(web: WebServer) -> None:
    with web.login() as c:
        token = csrf_of(c.get("/").text)
        evil = {"origin": "http://evil.example"}
        r = c.post("/logout", data={"csrf": token}, headers=evil)
        assert r.status_code == 403
        r = c.post("/lang", data={"csrf": token, "lang": "en", "next": "/"},
                   headers={"sec-fetch-site": "cross-site"})  # fmt: skip
        assert r.status_code == 403
        # Same origin but without the form's token (a forged form cannot read it).
        r = c.post("/lang", data={"lang": "en", "next": "/"}, headers={"origin": web.url})
        assert r.status_code == 403
        assert c.get("/api/v1/province").status_code == 200  # still logged in
        # The real form: same origin and the token.
        r = c.post("/lang", data={"csrf": token, "lang": "en", "next": "//evil.example/"},
                   headers={"origin": web.url})  # fmt: skip
        assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    with web.client() as c:
        r = c.post("/login", data={"user": USER, "password": PASSWORD})
        assert r.status_code == 403  # login form without its CSRF token
        assert "bzagg_session" not in r.headers.get("set-cookie", "")


def test_logout_ends_the_session(web: WebServer) -> None:
    with web.login() as c:
        token = csrf_of(c.get("/").text)
        r = c.post("/logout", data={"csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get("/api/v1/province").status_code == 401


def test_wrong_passwords_are_rate_limited(tmp_path: Path) -> None:
    server = start_web(tmp_path / "rl", seed_store(tmp_path / "store.sqlite3"))
    try:
        with server.client() as c:
            for _ in range(5):
                r = login(c, USER, "wrong password!")
                assert r.status_code == 401
                assert "Sai tên đăng nhập hoặc mật khẩu" in r.text
                assert "bzagg_session" not in r.headers.get("set-cookie", "")
            r = login(c, USER, PASSWORD)  # even the right password, until the window passes
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) > 0
            assert "Quá nhiều lần đăng nhập sai" in r.text
    finally:
        server.stop()


@pytest.mark.parametrize("user", ["nobody", USER])
def test_unknown_user_and_wrong_password_look_alike(web: WebServer, user: str) -> None:
    with web.client() as c:
        r = login(c, user, "not the password")
        assert r.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in r.text


def test_openapi_schema_behind_the_session(web: WebServer) -> None:
    with web.login() as c:
        schema = c.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/v1/province", "/api/v1/districts/{name}", "/api/v1/sites/{site_id}",
            "/api/v1/nodes"} <= paths  # fmt: skip
    assert not any(p.startswith(("/login", "/district/", "/events")) for p in paths)
    assert "ScopeView" in schema["components"]["schemas"]


def test_requests_without_browser_headers_still_need_the_token(web: WebServer) -> None:
    # curl-like clients send no Origin: the CSRF token alone guards them.
    with web.login() as c:
        r = c.post("/logout", data={"csrf": "wrong"})
        assert r.status_code == 403
        assert isinstance(r, httpx.Response)
