"""The dashboard in headless Chromium (Debian's) driven by Playwright, fed by a real `bzagg serve`.

Log in, province, follow a district and a site, switch language; a window published to
Mosquitto and stored by `bzagg serve` appears on the open page without a reload; no console
errors. Screenshots land in tests/web/.artifacts/.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.wire.codec import encode
from scanner.wire.schema import Health, WindowReport
from scanner.wire.topics import status_topic, window_topic
from tests.conftest import IN_CI
from tests.delivery.helpers import BZAGG, Proc
from tests.mosquitto import Mosquitto, require
from tests.report.conftest import seed_store
from tests.report.seed import DAY0
from tests.web.conftest import PASSWORD, USER, WebServer, start_web

ARTIFACTS = Path(__file__).resolve().parent / ".artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's own calls to the internet are refused here; these keep it from trying.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is required in CI (it is in the [test] extra)")
        pytest.skip("playwright not installed")
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("chromium is required in CI (apt-get install chromium)")
        pytest.skip("chromium not installed")
    return sync_playwright


@pytest.fixture
def fed(tmp_path: Path, mosquitto: Mosquitto) -> Iterator[tuple[WebServer, Mosquitto]]:
    db = seed_store(tmp_path / "store.sqlite3")
    serve = Proc([BZAGG, "serve", "--broker", mosquitto.url, "--db", str(db)], tmp_path, "serve")
    web = None
    try:
        serve.wait_stderr("subscribed")
        web = start_web(tmp_path / "web", db)
        yield web, mosquitto
    finally:
        if web is not None:
            web.stop()
        serve.terminate()


def publish(broker: Mosquitto, topic: str, payload: bytes, *, retain: bool = False) -> None:
    cmd = [require("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
           "-t", topic, "-s"] + (["-r"] if retain else [])  # fmt: skip
    subprocess.run(cmd, input=payload, check=True, timeout=20)


def until(cond: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def new_window() -> WindowReport:
    """One more window at Bác Ái's office (seeded: 15 windows on day 1 from 01:00 UTC)."""
    return WindowReport(
        node="lap-03", site="ba-ubnd", seq=15, window_start=DAY0 + 86_400 + 3_600 + 15 * 60,
        window_s=60,
        counts={"bluezone": {"android": 4, "ios_fg": 0, "ios_bg": 1}, "iphone": {"all": 2},
                "phone": {"samsung": 1}, "other": {"all": 1}},
        slot_counts={"bluezone": {"android": 4}},
        health=Health(scanned_s=60.0, adverts=600, mode="passive", clock_synced=True),
        software="bluezone-audit/0.1.0", headcount=30,
    )  # fmt: skip


def test_dashboard_in_chromium(fed: tuple[WebServer, Mosquitto]) -> None:
    web, broker = fed
    sync_playwright = _playwright()
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)  # fmt: skip
        page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}")
                if "/events" not in r.url else None)  # fmt: skip

        # Log in: the province page answers only after the login form.
        page.goto(web.url + "/")
        assert page.url.startswith(web.url + "/login")
        page.fill("#user", USER)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(web.url + "/")
        assert page.get_attribute("html", "lang") == "vi"
        assert "Tỷ lệ cài đặt Bluezone toàn tỉnh" in page.inner_text("h1")
        assert page.locator("#ranked svg").count() == 1 and page.locator("#trend svg").count() == 1
        page.screenshot(path=str(ARTIFACTS / "province-vi.png"), full_page=True)

        # Follow a district, then one of its sites.
        page.click("#rows a:text('Ninh Hải')")
        page.wait_for_url("**/district/**")
        assert "Ninh Hải" in page.inner_text("h1")
        assert page.locator("#visits-table tbody tr").count() == 4
        page.screenshot(path=str(ARTIFACTS / "district-vi.png"), full_page=True)
        page.click("#rows a:text('UBND huyện Ninh Hải')")
        page.wait_for_url("**/site/nh-ubnd")
        assert "UBND huyện Ninh Hải" in page.inner_text("h1")
        assert page.locator("#coverage tbody tr[data-node='lap-02']").count() == 1
        page.screenshot(path=str(ARTIFACTS / "site-vi.png"), full_page=True)

        # Switch to English: the same page, in English, and it stays English.
        page.click("#switch-lang")
        page.wait_for_load_state()
        assert page.url.endswith("/site/nh-ubnd")
        assert page.get_attribute("html", "lang") == "en"
        assert "Bluezone adoption: UBND huyện Ninh Hải" in page.inner_text("h1")
        page.goto(web.url + "/")
        assert "Bluezone adoption, province" in page.inner_text("h1")

        # A window published now, stored by `bzagg serve`, shows up without a reload.
        row = page.locator("#rows tr", has_text="Bác Ái")
        assert row.locator("td").nth(4).inner_text() == "15"
        before = page.get_attribute("#main", "data-version")
        page.evaluate("window.__notReloaded = true")
        publish(broker, status_topic("ba-ubnd", "lap-03"), b"online", retain=True)
        publish(broker, window_topic("ba-ubnd", "lap-03"), encode(new_window()))
        # Polled from here: the page's CSP (rightly) forbids the eval wait_for_function needs.
        until(lambda: page.get_attribute("#main", "data-version") != before, "a new generation")
        until(lambda: row.locator("td").nth(4).inner_text() == "16", "the new window shown")
        assert page.evaluate("window.__notReloaded") is True
        page.screenshot(path=str(ARTIFACTS / "province-en-updated.png"), full_page=True)

        page.click("nav a[href='/nodes']")
        page.wait_for_url("**/nodes")
        node = page.locator("#nodes tr[data-node='lap-03']")
        assert "online" in node.inner_text()
        page.screenshot(path=str(ARTIFACTS / "nodes-en.png"), full_page=True)
        browser.close()
    assert problems == []
