"""`bzagg web` as a user runs it: the console script on a free loopback port over a real store."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.delivery.helpers import Proc
from tests.mosquitto import free_port
from tests.report.conftest import seed_store

ROOT = Path(__file__).resolve().parents[2]
SITES = ROOT / "config" / "sites.yaml"
BZAGG = str(Path(sys.executable).parent / "bzagg")
USER, PASSWORD = "alice", "correct horse battery"
TARGET, DEADLINE = "0.5", "2020-08-20"


@dataclass
class WebServer:
    url: str
    db: Path
    dir: Path
    proc: Proc

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def login(self, user: str = USER, password: str = PASSWORD) -> Iterator[httpx.Client]:
        with self.client() as c:
            r = login(c, user, password)
            assert r.status_code == 303, r.text[:500]
            yield c

    def stop(self) -> None:
        self.proc.terminate()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)


def login(c: httpx.Client, user: str, password: str, **headers: str) -> httpx.Response:
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"csrf": token, "user": user, "password": password,
                                  "next": "/"}, headers=headers)  # fmt: skip


def start_web(workdir: Path, db: Path, *extra: str) -> WebServer:
    workdir.mkdir(parents=True, exist_ok=True)
    users = workdir / "users"
    if not users.exists():
        from aggregator.web.auth import add_user

        add_user(users, USER, PASSWORD)
    port = free_port()
    proc = Proc(
        [BZAGG, "web", "--db", str(db), "--users", str(users), "--listen", f"127.0.0.1:{port}",
         "--sites-file", str(SITES), "--target", TARGET, "--deadline", DEADLINE,
         "--secret-file", str(workdir / "secret"), "--refresh", "0.3", *extra],
        workdir, "web",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.p.poll() is not None:
            raise AssertionError(f"bzagg web exited: {proc.stderr()[-3000:]}")
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return WebServer(url, db, workdir, proc)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"bzagg web did not answer: {proc.stderr()[-3000:]}")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    d = tmp_path_factory.mktemp("web")
    server = start_web(d, seed_store(d / "store.sqlite3"))
    try:
        yield server
    finally:
        server.stop()
