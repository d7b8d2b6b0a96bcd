"""The fast decode path (orjson, remembered names) gives the standard library's verdict on every
payload: the same report, or the same rejection reason and detail."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.wire import codec
from scanner.wire.schema import SchemaError, WindowReport
from tests.delivery.helpers import T0, window

pytest.importorskip("orjson")
NOW = T0 + 86400.0


@contextlib.contextmanager
def standard_library_only() -> Iterator[None]:
    saved, codec.fast_loads = codec.fast_loads, None
    try:
        yield
    finally:
        codec.fast_loads = saved


def verdict(payload: bytes) -> WindowReport | tuple[str, str]:
    try:
        return codec.decode(payload, now=NOW)
    except SchemaError as exc:
        return exc.reason, exc.detail


def both(payload: bytes) -> tuple[object, object]:
    fast = verdict(payload)
    with standard_library_only():
        return fast, verdict(payload)


VALID = codec.to_dict(window("node-a", "site-1", 7))
# JSON text of values where orjson and the standard library part ways: integers past 64 bits
# (orjson: a float), NaN and huge exponents, lone surrogates; and values of the wrong type.
odd_values = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.integers(2**63, 2**200).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.text(max_size=6).map(json.dumps),
    st.sampled_from([
        "NaN", "Infinity", "-Infinity", "1e400", "-0", "1E2", "59.5000000000000001",
        '"\\ud800"', "[1]", "{}", "null", "true",
    ]),
)  # fmt: skip


PATHS = (
    ("seq",), ("window_s",), ("v",), ("headcount",), ("node",), ("window_start",),
    ("counts", "iphone", "all"), ("counts", "bluezone", "android"),
    ("slot_counts", "bluezone", "android"), ("health", "scanned_s"), ("health", "adverts"),
    ("health", "rssi_min_dbm"), ("health", "clock_synced"), ("software",),
)  # fmt: skip


def _with(obj: dict[str, Any], path: tuple[str, ...], marker: str) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    inner = out
    for k in path[:-1]:
        inner = inner.setdefault(k, {})
    inner[path[-1]] = marker
    return out


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), odd_values)
def test_an_odd_value_anywhere_gets_the_standard_librarys_verdict(
    path: tuple[str, ...], value: str
) -> None:
    text = json.dumps(_with(VALID, path, "@@"), sort_keys=True, separators=(",", ":"))
    payload = text.replace('"@@"', value).encode()
    fast, reference = both(payload)
    assert fast == reference, payload


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_cut_and_corrupted_payloads_get_the_standard_librarys_verdict(data: st.DataObject) -> None:
    raw = codec.encode(window("node-a", "site-1", data.draw(st.integers(0, 99))))
    i = data.draw(st.integers(0, len(raw)))
    junk = data.draw(st.binary(max_size=4))
    payload = raw[:i] + junk + raw[i + data.draw(st.integers(0, 3)) :]
    fast, reference = both(payload)
    assert fast == reference, payload


@given(st.binary(max_size=200))
def test_random_bytes_get_the_standard_librarys_verdict(payload: bytes) -> None:
    fast, reference = both(payload)
    assert fast == reference


def test_the_fast_path_is_taken_for_valid_windows() -> None:
    payload = codec.encode(window("node-a", "site-1", 3))
    with standard_library_only():
        reference = codec.decode(payload, now=NOW)
    assert codec.fast_loads is not None
    assert codec.decode(payload, now=NOW) == reference


@pytest.mark.parametrize(
    ("node", "reason"),
    [(["node-a"], "bad_node"), ({"a": 1}, "bad_node"), ("node/a", "bad_node"), (7, "bad_node")],
)
def test_ids_that_are_not_text_are_refused_after_good_ones_were_remembered(
    node: object, reason: str
) -> None:
    codec.decode(codec.encode(window("node-a", "site-1", 1)), now=NOW)  # remembers "node-a"
    obj = dict(VALID, node=node)
    payload = json.dumps(obj).encode()
    fast, reference = both(payload)
    assert fast == reference
    assert isinstance(fast, tuple) and fast[0] == reason
