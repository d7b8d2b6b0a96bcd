"""Advert value types shared by every source and the classifier (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


class AdvertLike(Protocol):
    """What the classifier reads; bleak's AdvertisementData satisfies it as it is."""

    @property
    def local_name(self) -> str | None: ...
    @property
    def manufacturer_data(self) -> Mapping[int, bytes]: ...
    @property
    def service_data(self) -> Mapping[str, bytes]: ...
    @property
    def service_uuids(self) -> list[str] | tuple[str, ...]: ...
    @property
    def tx_power(self) -> int | None: ...


class PduKind(Enum):
    """Which advertising PDU carried the data; passive scans never see SCAN_RSP."""

    ADV_IND = "adv_ind"
    ADV_NONCONN_IND = "adv_nonconn_ind"
    ADV_SCAN_IND = "adv_scan_ind"
    ADV_DIRECT_IND = "adv_direct_ind"
    SCAN_RSP = "scan_rsp"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Advert:
    """One host-level advertising report, already merged with its scan response.

    `address` and the payloads stay in scanner memory: they are identifiers and are never
    written, logged or published (docs/architecture.md §5).
    """

    t: float  # UTC epoch seconds, read once per event by the I/O layer
    address: str  # "AA:BB:CC:DD:EE:FF"
    rssi_dbm: int | None
    local_name: str | None = None
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)
    service_data: Mapping[str, bytes] = field(default_factory=dict)  # 128-bit UUID str keys
    service_uuids: tuple[str, ...] = ()  # lowercase 128-bit UUID strings
    tx_power: int | None = None
    scan_response: bool = False  # True when scan-response data was merged in


@dataclass(frozen=True, slots=True)
class RawAdvert:
    """A report as the radio delivered it (replay files, the simulator): AD bytes, unparsed."""

    t: float
    address: str
    rssi_dbm: int | None
    adv: bytes
    scan_rsp: bytes | None = None
    pdu: PduKind = PduKind.UNKNOWN
