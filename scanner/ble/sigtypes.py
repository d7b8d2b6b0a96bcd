"""Compiled signature tables: the value types signatures.yaml is validated into (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.errors import ScannerError


class SignatureError(ScannerError, ValueError):
    """A signature file that cannot be used; the message names file, signature and key."""


@dataclass(frozen=True, slots=True)
class ByteTest:
    offset: int
    mask: int
    values: frozenset[int]


@dataclass(frozen=True, slots=True)
class PayloadTest:
    """Tests on a payload (after a company id, TLV header or service-data UUID)."""

    lengths: frozenset[int] | None = None
    min_length: int = 0
    max_length: int | None = None
    not_lengths: frozenset[int] = frozenset()
    prefix: bytes = b""
    mask: bytes | None = None
    bytes_tests: tuple[ByteTest, ...] = ()
    alnum: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    """All present conditions must hold (a signature with alternatives is written twice)."""

    manufacturer: tuple[int, PayloadTest] | None = None
    apple_tlv: tuple[int, PayloadTest] | None = None
    service_uuid: str | None = None
    service_data: tuple[str, PayloadTest] | None = None
    local_name: re.Pattern[str] | None = None
    overflow: tuple[str, int, int] | None = None  # uuid, bitmask byte index, bit value
    report_exclusive: bool = False
    flags: frozenset[int] | None = None
    tx_power: bool | None = None
    no_manufacturer: bool = False
    uuid128: bool = False
    appearance: tuple[int, int] | None = None
    any_advert: bool = False


@dataclass(frozen=True, slots=True)
class KeySpec:
    source: str = "address"
    company: int | None = None
    uuid: str | None = None
    offset: int = 0
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    rule: str
    category: str
    stratum: str
    counted: bool
    confidence: str
    match: Match
    key: KeySpec
    rolling_period_s: int | None
    utc_slot: bool  # rolling ID valid for exactly one UTC quarter-hour slot (Bluezone v2)
    suppresses: frozenset[str]
    source: str


@dataclass(frozen=True, slots=True)
class SignatureTable:
    path: str
    categories: tuple[str, ...]  # precedence, highest first
    fallback: frozenset[str]  # categories emitted only when nothing else counted
    signatures: tuple[Signature, ...]  # precedence order (file order)

    def strata(self) -> tuple[tuple[str, str], ...]:
        seen: dict[tuple[str, str], None] = {}
        for cat in self.categories:
            for s in self.signatures:
                if s.category == cat and s.counted:
                    seen[(cat, s.stratum)] = None
        return tuple(seen)
