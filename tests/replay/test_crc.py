"""CRC-24 verification: bit errors never become devices; the count of drops matches tshark's."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.ble.classify import Classifier
from scanner.counting.pipeline import NodeIdentity, Pipeline
from scanner.sources.replay.reader import ReplayStats, replay_into
from scanner.wire.schema import WindowReport
from tests.replay import ads
from tests.replay.bitflip import choose, packets, write_flipped

# A share like the public HackRF captures' (831 of 6,614 advertising frames failed their CRC).
SHARE = 0.12


def _counts(path: Path, classifier: Classifier) -> tuple[list[WindowReport], ReplayStats]:
    reports: list[WindowReport] = []
    pipeline = Pipeline(classifier, identity=NodeIdentity(node="n1", site="s1"),
                        sink=reports.append, window_s=60)  # fmt: skip
    stats = replay_into(path, pipeline)
    pipeline.finish(pipeline.summary.last_t)
    return reports, stats


def _table(reports: list[WindowReport]) -> list[tuple[int, object, object]]:
    return [
        (r.window_start, {c: dict(v) for c, v in r.counts.items()},
         {c: dict(v) for c, v in r.slot_counts.items()})
        for r in reports
    ]  # fmt: skip


@pytest.mark.parametrize("linktype", [256, 251])
def test_bit_errors_in_adva_are_not_phantom_devices(tmp_path: Path, linktype: int) -> None:
    """Frames whose CRC the sniffer did not check: corrupted ones are dropped, not counted."""
    pkts = packets(ads.scene().adverts)
    corrupt = {i: w for i, w in choose(len(pkts), SHARE).items()}
    assert len(corrupt) > 100
    flipped, clean = tmp_path / "flipped.pcap", tmp_path / "clean.pcap"
    write_flipped(flipped, pkts, corrupt, linktype=linktype)
    write_flipped(clean, pkts, corrupt, linktype=linktype, skip_corrupt=True)
    classifier = Classifier()
    got, stats = _counts(flipped, classifier)
    want, _ = _counts(clean, classifier)
    assert _table(got) == _table(want)
    assert stats.crc_failed == len(corrupt)
