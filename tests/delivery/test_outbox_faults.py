"""The node's outbox on a full or read-only filesystem: windows wait in memory (bounded), the
fault is logged once and shown in health, and writing resumes when the disk allows it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from scanner.node.outbox import Outbox
from scanner.node.spool import Spool
from tests.delivery.helpers import window
from tests.delivery.volumes import Volume, small_volume

__all__ = ["small_volume"]


def _spool(path: Path, max_held: int = 10_000) -> Spool:
    return Spool(lambda: Outbox(path), path, max_held=max_held)


def _seqs_and_starts(path: Path) -> tuple[list[int], list[int]]:
    ob = Outbox(path)
    try:
        rows = [(s, p) for s, _, p in ob.all_payloads()]
    finally:
        ob.close()
    import json

    return [s for s, _ in rows], [json.loads(p)["window_start"] for _, p in rows]


def test_full_filesystem_holds_windows_in_memory_then_writes_them(
    small_volume: Volume, caplog: pytest.LogCaptureFixture
) -> None:
    path = small_volume.path / "outbox.sqlite3"
    spool = _spool(path)
    assert spool.put(window("n1", "s1", 0))
    small_volume.fill()
    with caplog.at_level(logging.ERROR, logger="scanner.node.spool"):
        results = [spool.put(window("n1", "s1", i)) for i in range(1, 40)]
    assert not all(results)
    h = spool.health()
    assert h.fault in ("full", "io") and h.held > 0 and h.dropped == 0
    assert sum("cannot be written" in r.getMessage() for r in caplog.records) == 1
    small_volume.free()
    assert spool.put(window("n1", "s1", 40))
    assert spool.health().fault is None and spool.health().held == 0
    assert spool.outbox is not None
    spool.outbox.close()
    seqs, starts = _seqs_and_starts(path)
    # expected / stored / lost: every window written once, in order, seqs contiguous
    assert (len(starts), len(set(starts)), seqs) == (41, 41, list(range(41)))


def test_read_only_filesystem_at_start_then_writable(small_volume: Volume) -> None:
    path = small_volume.path / "outbox.sqlite3"
    Outbox(path).close()
    small_volume.readonly()
    spool = _spool(path)
    assert spool.outbox is None and spool.health().fault == "readonly"
    for i in range(5):
        assert not spool.put(window("n1", "s1", i))
    assert spool.health().held == 5
    small_volume.writable()
    assert spool.put(window("n1", "s1", 5))
    assert spool.outbox is not None
    spool.outbox.close()
    seqs, starts = _seqs_and_starts(path)
    assert seqs == list(range(6)) and len(set(starts)) == 6


def test_memory_is_bounded_and_the_overflow_counted(tmp_path: Path) -> None:
    # SQLite-level simulation of a full disk (runs without root): max_page_count.
    path = tmp_path / "outbox.sqlite3"
    spool = _spool(path, max_held=3)
    assert spool.outbox is not None
    db = spool.outbox._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    for i in range(200):
        spool.put(window("n1", "s1", i))
        if spool.health().fault is not None:
            break
    first_fail = i
    for j in range(first_fail + 1, first_fail + 6):
        spool.put(window("n1", "s1", j))
    h = spool.health()
    assert h.fault == "full" and h.held == 3 and h.dropped == 3
    db.execute("PRAGMA max_page_count = 1073741823")
    assert spool.put(window("n1", "s1", first_fail + 6))
    spool.outbox.close()
    seqs, starts = _seqs_and_starts(path)
    assert seqs == list(range(len(seqs)))
    # expected = first_fail + 7 windows; held 3 at most, so 3 dropped, counted in health
    assert len(starts) == first_fail + 7 - 3
