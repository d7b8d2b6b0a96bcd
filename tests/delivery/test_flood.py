"""A flood of malformed payloads mixed with valid windows: the aggregator stays up, stores every
valid window once and rejects every bad message with a reason (real Mosquitto, real store)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.ingest.subscribe import Subscriber
from aggregator.store.sqlite import Store
from scanner.wire.broker import parse_broker_url
from scanner.wire.codec import encode, to_dict
from scanner.wire.schema import MAX_COUNT
from scanner.wire.topics import window_topic
from tests.delivery.helpers import T0, window
from tests.mosquitto import Mosquitto

pytestmark = [
    pytest.mark.mqtt,
    pytest.mark.slow,
    # On failure hypothesis warns that the 100 kB example is large; let the real error show.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]
NOW = T0 + 86400.0
_uid = itertools.count()

not_int = st.one_of(
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
FIELDS = ("seq", "window_s", "window_start", "counts", "health", "node", "site")


@st.composite
def bad_message(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(kind, topic, payload) of one message the contract must reject."""
    node = "bad-node"  # generation must not depend on outside state (hypothesis replays it)
    obj: dict[str, Any] = to_dict(window(node, "s1", draw(st.integers(0, 999))))
    topic = window_topic("s1", node)
    kind = draw(st.sampled_from((
        "broken_json", "random_bytes", "wrong_type", "huge_count", "huge_seq", "negative_count",
        "wrong_version", "topic_mismatch", "future", "unknown_field", "missing_field",
        "bad_health", "not_object", "bad_topic",
    )))  # fmt: skip
    if kind == "broken_json":
        raw = json.dumps(obj).encode()
        return kind, topic, raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "random_bytes":
        return kind, topic, draw(st.binary(max_size=300))
    if kind == "wrong_type":
        obj[draw(st.sampled_from(("seq", "window_s", "node", "counts", "health")))] = draw(not_int)
    elif kind == "huge_count":
        obj["counts"]["iphone"]["all"] = draw(st.integers(MAX_COUNT + 1, 2**200))
    elif kind == "huge_seq":
        obj["seq"] = draw(st.integers(2**53, 2**300))
    elif kind == "negative_count":
        obj["counts"]["bluezone"]["ios_fg"] = draw(st.integers(-(2**70), -1))
    elif kind == "wrong_version":
        obj["v"] = draw(st.one_of(st.integers().filter(lambda v: v != 1), st.text(max_size=3)))
    elif kind == "topic_mismatch":
        obj["node" if draw(st.booleans()) else "site"] = "someone-else"
    elif kind == "future":
        obj["window_start"] = "2099-01-01T00:00:00Z"
    elif kind == "unknown_field":
        obj[draw(st.sampled_from(("address", "bz_id", "x")))] = "AA:BB:CC:DD:EE:FF"
    elif kind == "missing_field":
        del obj[draw(st.sampled_from(FIELDS))]
    elif kind == "bad_health":
        obj["health"][draw(st.sampled_from(("scanned_s", "adverts", "mode")))] = draw(
            st.one_of(st.integers(-5, -1), st.just("warp"), st.floats(1e6, 1e300))
        )
    elif kind == "not_object":
        return kind, topic, json.dumps(draw(st.lists(st.integers(), max_size=3))).encode()
    elif kind == "bad_topic":
        topic = f"bzaudit/v1/s 1!/{node}/window"  # matches the subscription, fails the id rule
    return kind, topic, json.dumps(obj).encode()


def test_flood_of_malformed_payloads(mosquitto: Mosquitto, tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite3", clock=lambda: NOW)
    broker = parse_broker_url(mosquitto.url)
    examples = 0

    @settings(
        max_examples=8, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )  # fmt: skip
    @given(bad=st.lists(bad_message(), min_size=150, max_size=300), good_n=st.integers(50, 200))
    def run(bad: list[tuple[str, str, bytes]], good_n: int) -> None:
        nonlocal examples
        examples += 1
        tag = next(_uid)
        good = [window(f"good-{tag}", "s1", i, seq=i) for i in range(good_n)]
        msgs = [(window_topic(r.site, r.node), encode(r)) for r in good]
        msgs += [(t, p) for _, t, p in bad]
        # Two 1 MB payloads per round (the test broker has no message_size_limit).
        big = json.dumps({**to_dict(window(f"bad-big-{tag}", "s1", 0)), "pad": "x" * 2**20})
        msgs.insert(len(msgs) // 3, (window_topic("s1", f"bad-big-{tag}"), big.encode()))
        msgs.insert(len(msgs) // 2, (window_topic("s1", f"bad-big2-{tag}"), b"{" * 2**20))
        msgs.sort(key=lambda m: hash(m[1]))  # mixed, deterministically
        n_bad = len(msgs) - good_n
        # Count this example's rejects by id, so a failed example cannot skew the next ones.
        first_id = max((r.id for r in store.rejects()), default=0)
        asyncio.run(_publish_and_ingest(store, broker, msgs, good_n, n_bad, tag))

        stored = store.windows(f"good-{tag}")
        assert sorted(w.seq for w in stored) == list(range(good_n))
        assert [w for w in store.windows() if w.node.startswith("bad-")] == []
        rej = [r.reason for r in store.rejects() if r.received_at == NOW and r.id > first_id]
        assert len(rej) == n_bad and all(rej)

    run()
    reasons = {r.reason for r in store.rejects()}
    assert {"bad_json", "negative_count", "count_too_large", "bad_version", "topic_mismatch",
            "future_window", "unknown_field", "oversized", "bad_topic"} <= reasons  # fmt: skip
    assert examples >= 5
    assert len(store.rejects()) >= 1000
    store.close()


async def _publish_and_ingest(
    store: Store, broker: Any, msgs: list[tuple[str, bytes]], good_n: int, n_bad: int, tag: int
) -> None:
    before = len(store.rejects())
    # One session per round: a round cancelled between commit and PUBACK must not have the
    # broker redeliver its last messages into the next round's counts (at-least-once).
    sub = Subscriber(store, broker, clock=lambda: NOW, client_id=f"bzagg-flood-{tag}")
    task = asyncio.create_task(sub.run())
    await asyncio.wait_for(sub.connected.wait(), 10)
    async with aiomqtt.Client(broker.host, broker.port, max_inflight_messages=50) as client:
        client.pending_calls_threshold = 100
        for i in range(0, len(msgs), 50):
            await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in msgs[i : i + 50]))

    def done() -> bool:
        stored = len(store.windows(f"good-{tag}"))
        rejected = len(store.rejects()) - before
        return stored == good_n and rejected >= n_bad

    # Generous: on a loaded 2-core CI machine a round can take a while; a hang still fails.
    deadline = asyncio.get_running_loop().time() + 90
    while not done():
        assert not task.done(), "the subscriber stopped"
        assert asyncio.get_running_loop().time() < deadline, "windows did not all arrive in 90 s"
        await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
