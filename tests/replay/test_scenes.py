"""A hand-checked scene, written in every capture format, counted through the real pipeline.

Expected counts per 60-s window (05:58, 05:59, 06:00, 06:01 UTC on 2020-08-08; see ads.scene):
- bluezone/android 2 every window although Android Bluezone changes address every 15 s burst
  (A + C, then A + B); per-slot distinct IDs 2, 3 (A, B and C in slot 23), then 2, 2 after the
  06:00 rotation, when A's real ID changes from B9A665... to 3AA8DF... (protocol.md §2.9);
- bluezone/ios_fg 1; bluezone/ios_bg 1, only through the merged scan response (overflow area);
- iphone 3 (the background Bluezone iPhone and two plain iPhones);
- phone/en 2, 2, 3, 2 (the second phone's RPI and address change at 06:00:30);
- other: PC 1, AirPods 1, unknown 1; the iBeacon companion never counts anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.sources.replay.reader import ReplayStats, read_capture, replay_into
from scanner.sources.replay.write import write_capture
from scanner.wire.schema import WindowReport
from tests.replay import ads

VARIANTS = [("pcap", 251), ("pcap", 256), ("pcap", 201), ("pcapng", 256), ("pcapng", 201),
            ("btsnoop", 1002), ("btsnoop", 2001), ("jsonl", None)]  # fmt: skip
STARTS = [ads.ROTATION - 120, ads.ROTATION - 60, ads.ROTATION, ads.ROTATION + 60]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def _pipeline(
    classifier: Classifier, reports: list[WindowReport], rssi_min: int = -127
) -> Pipeline:
    return Pipeline(classifier, identity=NodeIdentity(node="n1", site="s1"), sink=reports.append,
                    window_s=60, rssi_min_dbm=rssi_min)  # fmt: skip


def _nonzero(r: WindowReport) -> dict[str, dict[str, int]]:
    return {c: {s: n for s, n in v.items() if n} for c, v in r.counts.items()}


@pytest.mark.parametrize(("fmt", "linktype"), VARIANTS, ids=[f"{f}-{lt}" for f, lt in VARIANTS])
def test_scene_counts(
    tmp_path: Path, classifier: Classifier, fmt: str, linktype: int | None
) -> None:
    sc = ads.scene()
    path = tmp_path / f"scene.{fmt}"
    write_capture(path, sc.adverts, fmt, linktype=linktype)  # type: ignore[arg-type]
    reports: list[WindowReport] = []
    pipeline = _pipeline(classifier, reports)
    stats = ReplayStats()
    for adv in read_capture(path, stats=stats):
        pipeline.feed(adv)
    pipeline.finish(pipeline.summary.last_t)

    assert [r.window_start for r in reports] == STARTS
    en = [2, 2, 3, 2]
    for r, n_en in zip(reports, en, strict=True):
        assert _nonzero(r) == {
            "bluezone": {"android": 2, "ios_fg": 1, "ios_bg": 1},
            "iphone": {"all": 3},
            "phone": {"en": n_en},
            "other": {"pc": 1, "apple_accessory": 1, "unknown": 1},
        }, r.window_start
    assert [r.slot_counts for r in reports] == [{"bluezone": {"android": n}} for n in (2, 3, 2, 2)]
    # Host-level adverts per window: 345 reports, plus 30 merged scan responses for the binary
    # formats (JSONL lines carry the scan response already merged).
    per_window = 345 if fmt == "jsonl" else 375
    assert [r.health.adverts for r in reports] == [per_window] * 4
    assert stats.scan_responses_merged == (0 if fmt == "jsonl" else sc.scan_responses)
    assert stats.skipped_corrupt == stats.crc_failed == 0


@pytest.mark.parametrize(("fmt", "linktype"), [("pcap", 256), ("btsnoop", 2001), ("jsonl", None)])
def test_replay_into_matches_read_capture(
    tmp_path: Path, classifier: Classifier, fmt: str, linktype: int | None
) -> None:
    sc = ads.scene()
    path = tmp_path / f"scene.{fmt}"
    write_capture(path, sc.adverts, fmt, linktype=linktype)  # type: ignore[arg-type]
    slow: list[WindowReport] = []
    p1 = _pipeline(classifier, slow, rssi_min=-65)
    for adv in read_capture(path):
        p1.feed(adv)
    p1.finish(p1.summary.last_t)
    fast: list[WindowReport] = []
    p2 = _pipeline(classifier, fast, rssi_min=-65)
    stats = replay_into(path, p2)
    p2.finish(p2.summary.last_t)
    assert [(_nonzero(r), r.slot_counts, r.health.adverts, r.health.below_gate) for r in fast] == [
        (_nonzero(r), r.slot_counts, r.health.adverts, r.health.below_gate) for r in slow
    ]
    # The -65 dBm gate keeps Bluezone Android (-60..-63), iOS foreground (-51 against the
    # Apple gate -51), the two plain iPhones (-41, -44), the PC (-62) and the AirPods (-64); it
    # drops the background Bluezone iPhone (-52), the EN phones (-70, -71) and the unknown
    # device (-67).
    assert _nonzero(fast[0]) == {
        "bluezone": {"android": 2, "ios_fg": 1},
        "iphone": {"all": 2},
        "phone": {},
        "other": {"pc": 1, "apple_accessory": 1},
    }
    assert stats.adverts == sum(r.health.adverts for r in fast)
