"""JSONL replay input: the project's own lines, and tshark's `-T ek -x` output as it is.

Project lines (written by `capture_write`) are host-level: one advert per line, its scan
response already merged. A line with `"pdu": "scan_rsp"` and no `scan_rsp` is a bare response and
merges like one read from a capture. tshark lines (`tshark -r f.pcap -T ek -x > f.jsonl`) are one
packet each: the reader takes the time, address, RSSI, PDU or event type and the raw AD bytes from
the BLE LL or HCI layers, whatever the tshark version prefixes the field names with, and merges
scan responses itself. Bad lines are counted (`skipped_corrupt`), never fatal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import IO, Any, Final

from scanner.ble.advert import PduKind
from scanner.sources.replay import formats as cf
from scanner.sources.replay.merge import Batch, Merger, Row

_PDU_BY_NAME: Final = {k.value: k for k in PduKind}
_SKIP: Final = "skip"
# Field-name endings in tshark's EK output (layer prefixes differ between versions).
_T = "frame_time_epoch"
_LL_ADDR, _HCI_ADDR = "btle_advertising_address", "bthci_evt_bd_addr"
_LL_RSSI, _HCI_RSSI = "btle_rf_signal_dbm", "bthci_evt_rssi"
_LL_PDU, _HCI_EVT = "advertising_header_pdu_type", "le_advts_event_type"
_ADV_RAW, _RSP_RAW = "eir_ad_advertising_data_raw", "scan_responce_data_raw"  # sic (Wireshark)


def jsonl_batches(f: IO[bytes], merger: Merger) -> Iterator[Batch]:
    stats = merger.stats
    try:
        with f:
            for line in f:
                stats.bytes_read += len(line)
                if not line.strip():
                    continue
                row = _line(line)
                if isinstance(row, str):
                    continue  # tshark's Elasticsearch index lines
                stats.records += 1
                if row is None:
                    stats.skipped_corrupt += 1
                    continue
                if isinstance(row, int):
                    stats.non_advert += 1
                    continue
                t, addr, rssi, adv, rsp, pdu = row
                if rsp is not None:
                    merger.adverts += 1  # already merged by whoever wrote the line
                    if rssi is None:
                        merger.no_rssi += 1
                    if merger.feed is not None:
                        merger.feed(t, addr, rssi, adv, rsp)
                    else:
                        merger.out.append(row)
                else:
                    merger.add_one(t, pdu, addr, rssi, adv)  # bare SCAN_RSP lines merge here
                if len(merger.out) >= merger.batch:
                    yield merger.take()
            if merger.out:
                yield merger.take()
    finally:
        merger.flush_stats()


def _line(line: bytes) -> Row | int | str | None:
    try:
        obj = json.loads(line)
        if not isinstance(obj, dict):
            return None
        if "index" in obj and len(obj) == 1:
            return _SKIP
        if isinstance(obj.get("layers"), dict):
            return _tshark_row(obj["layers"])
        return _project_row(obj)
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError, AttributeError):
        return None


def _checked(t: float, address: str, rssi: Any) -> tuple[float, str, int | None] | None:
    if rssi is not None and (isinstance(rssi, bool) or not -128 <= int(rssi) <= 127):
        return None
    if len(address) != 17 or address.count(":") != 5 or not math.isfinite(t):
        return None
    return t, address.upper(), None if rssi is None else int(rssi)


def _project_row(obj: dict[str, Any]) -> Row | None:
    head = _checked(float(obj["t"]), str(obj["address"]), obj.get("rssi", obj.get("rssi_dbm")))
    if head is None:
        return None
    adv = bytes.fromhex(obj.get("adv", obj.get("adv_hex")) or "")
    rsp_hex = obj.get("scan_rsp", obj.get("scan_rsp_hex"))
    rsp = None if rsp_hex is None else bytes.fromhex(rsp_hex)
    pdu = _PDU_BY_NAME.get(str(obj.get("pdu", "unknown")), PduKind.UNKNOWN)
    return (*head, adv, rsp, pdu)


def _tshark_row(layers: dict[str, Any]) -> Row | int | None:
    fields: dict[str, Any] = {}
    for layer in layers.values():
        if isinstance(layer, dict):
            fields.update(layer)

    def get(ending: str) -> Any:
        for key, value in fields.items():
            if key.endswith(ending):
                return value[0] if isinstance(value, list) and value else value
        return None

    address = get(_LL_ADDR) or get(_HCI_ADDR)
    if address is None:
        return 1  # not an advertising packet
    kind: PduKind | None
    if get(_LL_ADDR) is not None:
        kind = cf.LL_PDU_KIND[int(str(get(_LL_PDU)), 0) & 0x0F]
        rssi = get(_LL_RSSI)
    else:
        etype = int(str(get(_HCI_EVT)), 0)
        kind = cf.HCI_EVENT_KIND[etype] if etype < len(cf.HCI_EVENT_KIND) else None
        rssi = get(_HCI_RSSI)
        rssi = None if rssi is None or int(rssi) == cf.HCI_RSSI_UNAVAILABLE else rssi
    if kind is None:
        return 1
    data_hex = get(_RSP_RAW) if kind is PduKind.SCAN_RSP else None
    data_hex = data_hex if data_hex is not None else get(_ADV_RAW) or ""
    head = _checked(float(get(_T)), str(address), rssi)
    if head is None:
        return None
    return (*head, bytes.fromhex(str(data_hex)), None, kind)
