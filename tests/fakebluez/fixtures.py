"""pytest fixtures: a private system bus per test and a fake BlueZ in the test's event loop."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.fakebluez.bus import dbus_daemon, private_system_bus
from tests.fakebluez.service import FakeBlueZ


def _need_dbus() -> None:
    if dbus_daemon() is None:
        if IN_CI:
            pytest.fail("dbus-daemon is required in CI (apt-get install dbus-daemon)")
        pytest.skip("dbus-daemon not installed")


@pytest.fixture
def system_bus(tmp_path: Path) -> Iterator[str]:
    """A private system bus for this test only; DBUS_SYSTEM_BUS_ADDRESS points at it."""
    _need_dbus()
    with private_system_bus(tmp_path / "dbus") as address:
        yield address


@pytest.fixture
async def fake_bluez_factory(system_bus: str) -> AsyncIterator[Callable[..., Awaitable[FakeBlueZ]]]:
    """Start fakes with options (`adapters=`, `powered=`, `monitor_api=`); all stop at teardown."""
    started: list[FakeBlueZ] = []

    async def make(**kwargs: Any) -> FakeBlueZ:
        fake = FakeBlueZ(**kwargs)
        await fake.start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()
    await _close_bleak_manager()


@pytest.fixture
async def fake_bluez(fake_bluez_factory: Callable[..., Awaitable[FakeBlueZ]]) -> FakeBlueZ:
    return await fake_bluez_factory()


async def _close_bleak_manager() -> None:
    # bleak caches one BlueZManager (and its bus connection) per event loop; close it with the loop.
    try:
        from bleak.backends.bluezdbus import manager as m
    except ImportError:  # pragma: no cover
        return
    cache = getattr(m, "_global_instances", None)
    if not cache:
        return
    inst = cache.pop(asyncio.get_running_loop(), None)
    bus = getattr(inst, "_bus", None)
    if bus is not None:
        bus.disconnect()


class FakeClock:
    """Virtual time: `now()` is set by the test; `sleep()` returns when the test moves past it."""

    def __init__(self, t: float) -> None:
        self.t = t
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._seq), fut))
        await fut

    async def advance_to(self, t: float, settle: Callable[[], bool] | None = None) -> None:
        """Move time to `t`, waking sleepers in order and letting each finish its step."""
        while self._sleepers and self._sleepers[0][0] <= t:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self.t = max(self.t, deadline)
            if not fut.done():
                fut.set_result(None)
                await self._settled(settle)
        self.t = max(self.t, t)
        await asyncio.sleep(0)

    async def _settled(self, settle: Callable[[], bool] | None, timeout_s: float = 5.0) -> None:
        # A woken ticker is done with its step when it sleeps again (or `settle()`: it finished).
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while loop.time() < end:
            if settle is not None and settle():
                return
            pending = [d for d, _, f in self._sleepers if not f.done()]
            if pending and min(pending) > self.t:
                return
            await asyncio.sleep(0.001)


async def wait_until(cond: Callable[[], bool], timeout_s: float = 5.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.002)
