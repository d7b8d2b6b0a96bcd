"""Replay sources: read pcap, pcapng, btsnoop and JSONL captures as the RawAdverts a host would see.

Formats (detected from the first bytes, not the file name):
- pcap (both byte orders, micro- and nanosecond) and pcapng (SHB/IDB/EPB/SPB, both byte orders,
  per-interface link type and time resolution) with link types 251 (BLE LL), 256 (BLE LL with
  PHDR: RSSI from the signal field; frames whose CRC was checked and failed are dropped and
  counted, protocol.md §6) and 201 (HCI H4 with PHDR);
- btsnoop datalink 1002 (H4, Android's HCI snoop log), 1001 (raw HCI) and 2001 (Linux monitor,
  `btmon -w`), LE Advertising Reports (legacy 0x02 and extended 0x0D);
- the project's JSONL (layout in `scanner.sources.capture_write`).

Scan responses: a host only learns the scan response after the advert, so the reader yields the
advert as it arrives and, when a SCAN_RSP from the same address follows within `MERGE_WINDOW_S`,
yields a second RawAdvert holding that advert's data *and* the response (`scan_rsp`), with the
response's time and RSSI. That is what BlueZ reports (a device-found update carrying both). A
response with no advert to merge into is yielded alone (`adv=b""`, `pdu=SCAN_RSP`).

File content never raises: truncated files and corrupt records are skipped and counted in
`ReplayStats`; only a file that is not a capture at all raises `ReplayError`.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from scanner.advert import PduKind, RawAdvert
from scanner.sources import capture_formats as cf
from scanner.sources.capture_read import Item, ReplayError, open_btsnoop, open_pcap, open_pcapng

if TYPE_CHECKING:
    from scanner.pipeline import Pipeline

__all__ = ["MERGE_WINDOW_S", "ReplayError", "ReplayStats", "detect_format", "read_capture"]

# protocol.md §6: merge a SCAN_RSP into the advert of the same AdvA seen within ~1 s.
MERGE_WINDOW_S: Final = 1.0
_PRUNE_AT: Final = 8192  # remembered adverts before old ones are dropped
_SCAN_RSP: Final = PduKind.SCAN_RSP
_PDU_BY_NAME: Final = {k.value: k for k in PduKind}


@dataclass(slots=True)
class ReplayStats:
    """What a replay read and what it had to skip (numbers only, printed in the summary)."""

    format: str | None = None
    linktype: int | None = None
    records: int = 0
    adverts: int = 0
    scan_responses_merged: int = 0
    orphan_scan_responses: int = 0
    skipped_corrupt: int = 0
    crc_failed: int = 0
    non_advert: int = 0
    truncated: bool = False
    bytes_read: int = 0


def detect_format(path: str | Path) -> str:
    """'pcap', 'pcapng', 'btsnoop' or 'jsonl' from the file's first bytes; ReplayError otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise ReplayError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if not head:
        raise ReplayError(f"{path} is empty")
    magic = head[:4]
    if magic in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
    ):
        return "pcap"
    if magic == b"\x0a\x0d\x0d\x0a":
        return "pcapng"
    if head.startswith(cf.BTSNOOP_MAGIC):
        return "btsnoop"
    if head.lstrip().startswith(b"{"):
        return "jsonl"
    raise ReplayError(f"{path} is not a pcap, pcapng, btsnoop or JSONL capture")


def read_capture(path: str | Path, *, stats: ReplayStats | None = None) -> Iterator[RawAdvert]:
    """Iterate the adverts of a capture file in file order, scan responses merged as a host would.

    Raises ReplayError at once (not while iterating) for a file that is not a capture.
    """
    stats = stats if stats is not None else ReplayStats()
    items = _open(path, stats)
    if items is None:
        return _jsonl(path, stats)
    return _merged(items, stats)


def replay_into(
    path: str | Path, pipeline: Pipeline, stats: ReplayStats | None = None
) -> ReplayStats:
    """Fast path: feed a capture straight into `pipeline.feed_raw`, no RawAdvert objects."""
    stats = stats if stats is not None else ReplayStats()
    items = _open(path, stats)
    if items is None:
        pipeline.feed_many(_jsonl(path, stats))
        return stats
    feed = pipeline.feed_raw
    last: dict[str, tuple[float, bytes]] = {}
    n = merged = orphans = 0
    limit = _PRUNE_AT
    try:
        for t, r in items:
            for kind, addr, rssi, data in r if isinstance(r, list) else (r,):
                n += 1
                if kind is _SCAN_RSP:
                    prev = last.get(addr)
                    if prev is not None and 0.0 <= t - prev[0] <= MERGE_WINDOW_S:
                        merged += 1
                        feed(t, addr, rssi, prev[1], data)
                    else:
                        orphans += 1
                        feed(t, addr, rssi, b"", data)
                    continue
                if len(last) >= limit:
                    last = {a: v for a, v in last.items() if t - v[0] <= MERGE_WINDOW_S}
                    limit = max(_PRUNE_AT, 2 * len(last))
                last[addr] = (t, data)
                feed(t, addr, rssi, data, None)
    finally:
        stats.adverts += n
        stats.scan_responses_merged += merged
        stats.orphan_scan_responses += orphans
    return stats


def _open(path: str | Path, stats: ReplayStats) -> Iterator[Item] | None:
    fmt = detect_format(path)
    stats.format = fmt
    if fmt == "jsonl":
        return None
    buf = _load(path)
    if fmt == "pcap":
        return open_pcap(buf, stats)
    if fmt == "pcapng":
        return open_pcapng(buf, stats)
    return open_btsnoop(buf, stats)


def _load(path: str | Path) -> bytes:
    # mmap avoids a copy for big captures; slicing an mmap yields bytes, as the decoders need.
    try:
        with open(path, "rb") as f:
            try:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # type: ignore[return-value]
            except (ValueError, OSError):
                return f.read()
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _merged(items: Iterator[Item], stats: ReplayStats) -> Iterator[RawAdvert]:
    last: dict[str, tuple[float, bytes, PduKind]] = {}
    n = merged = orphans = 0
    limit = _PRUNE_AT
    try:
        for t, r in items:
            for kind, addr, rssi, data in r if isinstance(r, list) else (r,):
                n += 1
                if kind is _SCAN_RSP:
                    prev = last.get(addr)
                    if prev is not None and 0.0 <= t - prev[0] <= MERGE_WINDOW_S:
                        merged += 1
                        yield RawAdvert(t, addr, rssi, prev[1], data, prev[2])
                    else:
                        orphans += 1
                        yield RawAdvert(t, addr, rssi, b"", data, _SCAN_RSP)
                    continue
                if len(last) >= limit:
                    last = {a: v for a, v in last.items() if t - v[0] <= MERGE_WINDOW_S}
                    limit = max(_PRUNE_AT, 2 * len(last))
                last[addr] = (t, data, kind)
                yield RawAdvert(t, addr, rssi, data, None, kind)
    finally:
        stats.adverts += n
        stats.scan_responses_merged += merged
        stats.orphan_scan_responses += orphans


def _jsonl(path: str | Path, stats: ReplayStats) -> Iterator[RawAdvert]:
    """The project's JSONL: one host-level advert per line; bad lines are counted, not fatal."""
    last: dict[str, tuple[float, bytes, PduKind]] = {}
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in the generator's finally
    except OSError as exc:
        raise ReplayError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return _jsonl_lines(f, stats, last)


def _jsonl_lines(
    f: Any, stats: ReplayStats, last: dict[str, tuple[float, bytes, PduKind]]
) -> Iterator[RawAdvert]:
    limit = _PRUNE_AT
    with f:
        for line in f:
            stats.bytes_read += len(line)
            if not line.strip():
                continue
            stats.records += 1
            adv = _jsonl_advert(line)
            if adv is None:
                stats.skipped_corrupt += 1
                continue
            stats.adverts += 1
            if adv.pdu is _SCAN_RSP and adv.scan_rsp is None:
                # A bare response line (converted from a sniffer capture): merge like the others.
                prev = last.get(adv.address)
                rsp = adv.adv
                if prev is not None and 0.0 <= adv.t - prev[0] <= MERGE_WINDOW_S:
                    stats.scan_responses_merged += 1
                    yield RawAdvert(adv.t, adv.address, adv.rssi_dbm, prev[1], rsp, prev[2])
                else:
                    stats.orphan_scan_responses += 1
                    yield RawAdvert(adv.t, adv.address, adv.rssi_dbm, b"", rsp, _SCAN_RSP)
                continue
            last[adv.address] = (adv.t, adv.adv, adv.pdu)
            if len(last) >= limit:
                last = {a: v for a, v in last.items() if adv.t - v[0] <= MERGE_WINDOW_S}
                limit = max(_PRUNE_AT, 2 * len(last))
            yield adv


def _jsonl_advert(line: bytes) -> RawAdvert | None:
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            return None
        t = float(obj["t"])
        address = str(obj["address"]).upper()
        rssi = obj.get("rssi", obj.get("rssi_dbm"))
        adv = bytes.fromhex(obj.get("adv", obj.get("adv_hex")) or "")
        rsp_hex = obj.get("scan_rsp", obj.get("scan_rsp_hex"))
        rsp = None if rsp_hex is None else bytes.fromhex(rsp_hex)
        pdu = _PDU_BY_NAME.get(str(obj.get("pdu", "unknown")), PduKind.UNKNOWN)
        if rssi is not None and (isinstance(rssi, bool) or not -128 <= int(rssi) <= 127):
            return None
        if len(address) != 17 or t != t:  # NaN check
            return None
        return RawAdvert(t, address, None if rssi is None else int(rssi), adv, rsp, pdu)
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError):
        return None
