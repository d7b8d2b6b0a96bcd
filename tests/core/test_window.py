"""Windowed counting: alignment, de-duplication, RSSI gate, slot counts, forgetting."""

from __future__ import annotations

import gc
import hashlib
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.ble.classify import Sighting
from scanner.counting.window import WindowCounter, WindowError

T0 = 1597039200  # 2020-08-10T06:00:00Z, a quarter-hour boundary
STRATA = (("bluezone", "android"), ("iphone", "all"))


def _sight(key: bytes, cat: str = "iphone", stratum: str = "all", rolling: bool = False,
           counted: bool = True) -> Sighting:  # fmt: skip
    return Sighting(
        category=cat, stratum=stratum, key=key, rolling=rolling, rule="t", counted=counted
    )


def _bz(key: bytes) -> Sighting:
    return _sight(key, "bluezone", "android", rolling=True)


class _Salts:
    """Deterministic salts that remember what they handed out (to look for leftovers)."""

    def __init__(self) -> None:
        self.issued: list[bytes] = []
        self._n = itertools.count()

    def __call__(self) -> bytes:
        salt = hashlib.sha256(b"salt%d" % next(self._n)).digest()
        self.issued.append(salt)
        return salt


def test_windows_align_to_utc_multiples_and_empty_windows_are_reported() -> None:
    c = WindowCounter(window_s=60, strata=STRATA)
    assert c.add(T0 + 75, -50, [_sight(b"a")]) == []
    assert c.window_start == T0 + 60
    closed = c.add(T0 + 250, -50, [_sight(b"b")])
    assert [w.window_start for w in closed] == [T0 + 60, T0 + 120, T0 + 180]
    assert [w.counts["iphone"]["all"] for w in closed] == [1, 0, 0]
    assert closed[1].counts == {"bluezone": {"android": 0}, "iphone": {"all": 0}}
    assert [w.adverts for w in closed] == [1, 0, 0]
    (last,) = c.close(T0 + 250)
    assert last.window_start == T0 + 240 and last.counts["iphone"]["all"] == 1


def test_distinct_keys_per_category_and_corroboration_not_counted() -> None:
    c = WindowCounter(window_s=60, strata=STRATA)
    for key in (b"a", b"a", b"b"):
        c.add(T0 + 1, -60, [_sight(key)])
    c.add(T0 + 2, -60, [_sight(b"a", "bluezone", "ios_bg"), _sight(b"a")])
    c.add(T0 + 3, -60, [_sight(b"beacon", "bluezone", "android", counted=False)])
    (w,) = c.close(T0 + 59)
    assert w.counts["iphone"]["all"] == 2
    assert w.counts["bluezone"] == {"android": 0, "ios_bg": 1}
    assert w.adverts == 5


def test_rssi_gate_drops_weak_and_unknown_rssi() -> None:
    c = WindowCounter(window_s=60, rssi_min_dbm=-80, strata=STRATA)
    c.add(T0 + 1, -79, [_sight(b"near", "bluezone", "android")])
    c.add(T0 + 2, -80, [_sight(b"edge", "bluezone", "android")])
    c.add(T0 + 3, -81, [_sight(b"far", "bluezone", "android")])
    c.add(T0 + 4, None, [_sight(b"unknown", "bluezone", "android")])
    (w,) = c.close(T0 + 10)
    assert w.counts["bluezone"]["android"] == 2
    assert w.below_gate == 2 and w.adverts == 4


def test_apple_sent_keys_meet_the_gate_plus_the_iphone_tx_offset() -> None:
    # An iPhone is ~14 dB louder than Bluezone Android at the same distance: at a -80 dBm gate
    # an iPhone at -70 dBm is as far away as an Android at -84 dBm, outside the site.
    c = WindowCounter(window_s=60, rssi_min_dbm=-80, strata=STRATA)
    c.add(T0 + 1, -66, [_sight(b"edge"), _sight(b"edge", "bluezone", "ios_bg")])
    c.add(T0 + 2, -70, [_sight(b"far"), _sight(b"far", "bluezone", "ios_bg")])
    c.add(T0 + 3, -70, [_sight(b"android", "bluezone", "android")])
    (w,) = c.close(T0 + 10)
    assert w.counts["iphone"]["all"] == 1
    assert w.counts["bluezone"] == {"android": 1, "ios_bg": 1}


def test_slot_counts_accumulate_within_quarter_hour_and_reset_at_boundary() -> None:
    c = WindowCounter(window_s=300, strata=STRATA, rolling_strata=[("bluezone", "android")])
    c.add(T0 + 10, -60, [_bz(b"id-1")])
    out = c.add(T0 + 310, -60, [_bz(b"id-2")])  # second window, same slot
    out += c.add(T0 + 610, -60, [_bz(b"id-2")])  # third window, same slot
    out += c.add(T0 + 910, -60, [_bz(b"id-3")])  # next slot
    out += c.close(T0 + 1000)
    assert [w.counts["bluezone"]["android"] for w in out] == [1, 1, 1, 1]
    assert [w.slot_counts["bluezone"]["android"] for w in out] == [1, 2, 2, 1]


def test_slot_counts_report_zero_for_rolling_strata() -> None:
    c = WindowCounter(window_s=60, strata=STRATA, rolling_strata=[("bluezone", "android")])
    c.add(T0 + 1, -60, [_sight(b"x")])
    (w,) = c.close(T0 + 2)
    assert w.slot_counts == {"bluezone": {"android": 0}}


def test_scan_coverage_follows_start_and_stop() -> None:
    c = WindowCounter(window_s=60, strata=STRATA)
    c.start(T0 + 30)
    c.stop(T0 + 40)
    c.start(T0 + 50)
    closed = c.advance(T0 + 125)
    assert [w.scanned_s for w in closed] == [20.0, 60.0]
    (last,) = c.close(T0 + 125)
    assert last.scanned_s == 5.0


@pytest.mark.parametrize("window_s", [0, -60, 7, 61, 1000])
def test_window_must_divide_quarter_hour(window_s: int) -> None:
    with pytest.raises(WindowError):
        WindowCounter(window_s=window_s)


_events = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=1800, allow_nan=False),
        st.integers(min_value=-110, max_value=-20),
        st.none() | st.binary(min_size=1, max_size=12),
        st.none() | st.binary(min_size=1, max_size=12),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(_events, st.sampled_from([30, 60, 300, 900]))
def test_counts_never_exceed_adverts_and_readding_is_idempotent(
    events: list, window_s: int
) -> None:
    def run(repeat: int) -> list[tuple[int, dict]]:
        c = WindowCounter(window_s=window_s, rssi_min_dbm=-90, strata=STRATA)
        out = []
        # A real advert yields at most one key per category, so a count is bounded by adverts.
        for t, rssi, phone_key, bz_key in sorted(events, key=lambda e: e[0]):
            sightings = [_sight(phone_key)] if phone_key else []
            sightings += [_bz(bz_key)] if bz_key else []
            for _ in range(repeat):
                out += c.add(T0 + t, rssi, sightings)
        out += c.close(T0 + 1801)
        for w in out:
            for strata in w.counts.values():
                for n in strata.values():
                    assert 0 <= n <= w.adverts - w.below_gate
        return [(w.window_start, w.counts) for w in out]

    assert run(1) == run(3)


def _reachable_bytes(root: object, *, exclude: object = None) -> Iterator[bytes]:
    # The test's own salt recorder is reachable through the counter's factory: skip it.
    seen: set[int] = {id(exclude)}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, bytes | bytearray):
            yield bytes(obj)
            continue
        if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "__dict__")):
            continue
        stack.extend(gc.get_referents(obj))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=4, max_size=12), min_size=1, max_size=20, unique=True))
def test_nothing_identifying_survives_close(keys: list[bytes]) -> None:
    salts = _Salts()
    c = WindowCounter(window_s=60, strata=STRATA, salt_factory=salts)
    for i, k in enumerate(keys):
        c.add(T0 + i, -50, [_sight(k), _bz(k + b"-bz")])
    window_salt = salts.issued[0]
    # Close the first window only: its salt and digests go; slot-scoped rolling digests may stay.
    c.add(T0 + 61, -50, [])
    leftovers = set(_reachable_bytes(c, exclude=salts))
    for k in keys:
        assert k not in leftovers
        assert hashlib.blake2b(k, key=window_salt, digest_size=16).digest() not in leftovers
    assert window_salt not in leftovers
    # End of input closes the slot too: nothing keyed remains at all.
    c.close(T0 + 62)
    leftovers = set(_reachable_bytes(c, exclude=salts))
    assert not any(s in leftovers for s in salts.issued)
    for k in keys:
        assert k + b"-bz" not in leftovers
        for salt in salts.issued:
            assert hashlib.blake2b(k + b"-bz", key=salt, digest_size=16).digest() not in leftovers


def test_peek_shows_open_window_counts_without_closing_it() -> None:
    c = WindowCounter(window_s=60, strata=STRATA)
    assert c.peek() == {}
    c.add(T0 + 1, -60, [_sight(b"a")])
    c.add(T0 + 2, -60, [_sight(b"b"), _bz(b"id")])
    assert c.peek() == {"bluezone": {"android": 1}, "iphone": {"all": 2}}
    (w,) = c.close(T0 + 3)
    assert c.peek() == {}
    assert w.counts["iphone"]["all"] == 2
