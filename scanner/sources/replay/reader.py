"""Replay sources: read pcap, pcapng, btsnoop and JSONL captures as the RawAdverts a host would see.

Formats (detected from the first bytes, not the file name):
- pcap (both byte orders, micro- and nanosecond) and pcapng (SHB/IDB/EPB/SPB, both byte orders,
  per-interface link type and time resolution) with link types 251 (BLE LL), 256 (BLE LL with
  PHDR: RSSI from the signal field), 272 (nRF Sniffer, header versions 0-3: RSSI and CRC status
  from its header) and 201 (HCI H4 with PHDR). Only CRC-valid frames count (docs/protocol.md
  §6): a frame the sniffer flagged bad is dropped, and one whose CRC nobody checked is verified
  here (`scanner.sources.replay.crc`); drops are counted, with their time, so each window's
  health says how many it lost;
- btsnoop datalink 1002 (H4, Android's HCI snoop log), 1001 (raw HCI) and 2001 (Linux monitor,
  `btmon -w`), LE Advertising Reports (legacy 0x02 and extended 0x0D);
- the project's JSONL (layout in `scanner.sources.replay.write`).

Scan responses: a host only learns the scan response after the advert, so the reader yields the
advert as it arrives and, when a SCAN_RSP from the same address follows within 1 s
(`MERGE_WINDOW_S`), a second RawAdvert holding that advert's data *and* the response
(`scan_rsp`), with the response's time and RSSI. That is what BlueZ reports (a device-found
update carrying both). A response with no advert to merge into is yielded alone (`adv=b""`,
`pdu=SCAN_RSP`). Details in `scanner.sources.replay.merge`.

Speed: records are decoded from one buffer (mmap) into batches of plain tuples; `replay_into`
feeds them to `Pipeline.feed_raw` without building RawAdvert objects, and little-endian LL
pcaps (what sniffers write) take a dedicated fast loop (`scanner.sources.replay.fast_pcap`).

File content never raises: truncated files and corrupt records are skipped and counted in
`ReplayStats`; only a file that is not a capture at all raises `ReplayError`.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from scanner.ble.advert import RawAdvert
from scanner.sources.replay import formats as cf
from scanner.sources.replay.jsonl import jsonl_batches
from scanner.sources.replay.merge import (
    BATCH_ROWS,
    MERGE_WINDOW_S,
    Batch,
    Feed,
    Merger,
    OnDrop,
    ReplayStats,
    Row,
)
from scanner.sources.replay.pcap import ReplayError, open_btsnoop, open_pcap
from scanner.sources.replay.pcapng import open_pcapng

if TYPE_CHECKING:
    from scanner.counting.pipeline import Pipeline

__all__ = [
    "MERGE_WINDOW_S", "Batch", "ReplayError", "ReplayStats", "Row", "detect_format",
    "iter_batches", "read_capture", "replay_into",
]  # fmt: skip

_PCAP_MAGICS: Final = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
)


def detect_format(path: str | Path) -> str:
    """'pcap', 'pcapng', 'btsnoop' or 'jsonl' from the file's first bytes; ReplayError otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise ReplayError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if not head:
        raise ReplayError(f"{path} is empty")
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    if head[:4] == b"\x0a\x0d\x0d\x0a":
        return "pcapng"
    if head.startswith(cf.BTSNOOP_MAGIC):
        return "btsnoop"
    if head.lstrip().startswith(b"{"):
        return "jsonl"
    raise ReplayError(f"{path} is not a pcap, pcapng, btsnoop or JSONL capture")


def iter_batches(
    path: str | Path,
    *,
    stats: ReplayStats | None = None,
    batch: int = BATCH_ROWS,
    fast: bool = True,
    feed: Feed | None = None,
    on_drop: OnDrop | None = None,
) -> Iterator[Batch]:
    """Batches of rows `(t, address, rssi_dbm, adv, scan_rsp, pdu)` in file order.

    Raises ReplayError at once (not while iterating) for a file that is not a capture.
    `fast=False` disables the pcap fast loop (tests compare both paths). With `feed`, rows are
    passed to it as they are decoded and the batches come back empty; with `on_drop`, so are
    the times of frames that failed their CRC (else they come in `Batch.drops`).
    """
    stats = stats if stats is not None else ReplayStats()
    fmt = detect_format(path)
    stats.format = fmt
    merger = Merger(stats, batch, feed, on_drop)
    if fmt == "jsonl":
        return jsonl_batches(_open_text(path), merger)
    buf = _load(path)
    if fmt == "pcap":
        return open_pcap(buf, merger, fast)
    if fmt == "pcapng":
        return open_pcapng(buf, merger)
    return open_btsnoop(buf, merger)


def read_capture(path: str | Path, *, stats: ReplayStats | None = None) -> Iterator[RawAdvert]:
    """Iterate the adverts of a capture file in file order, scan responses merged as a host would.

    Raises ReplayError at once (not while iterating) for a file that is not a capture.
    """
    return _adverts(iter_batches(path, stats=stats))


def _adverts(batches: Iterator[Batch]) -> Iterator[RawAdvert]:
    for rows in batches:
        for row in rows:
            yield RawAdvert(*row)


def replay_into(
    path: str | Path, pipeline: Pipeline, stats: ReplayStats | None = None
) -> ReplayStats:
    """Fast path: feed a whole capture into `pipeline.feed_raw` without building RawAdverts."""
    stats = stats if stats is not None else ReplayStats()
    for _ in iter_batches(
        path, stats=stats, feed=pipeline.feed_raw, on_drop=pipeline.note_crc_failed
    ):
        pass
    return stats


def _load(path: str | Path) -> bytes:
    # mmap avoids reading a big capture into memory; slicing it yields bytes, as the rows need.
    try:
        with open(path, "rb") as f:
            try:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[return-value]
            except (ValueError, OSError):
                return f.read()
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _open_text(path: str | Path) -> Any:
    try:
        return open(path, "rb")  # closed by the generator that reads it
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from exc
