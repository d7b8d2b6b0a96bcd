"""The keyed-digest sets behind a window counter: one window's keys with their gate tally, and
one quarter-hour slot's capture histories. Digests only; raw keys live no longer than their window.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from scanner.wire.schema import SlotCapture

DIGEST_BYTES: Final = 16


class WindowKeys:
    """Distinct keys of one window under one salt, with each key's packet tally against the
    gate; holds keyed digests (and, for the window's life, the memo), never writes them out."""

    __slots__ = ("_memo", "_salt", "_seen")

    def __init__(self, salt: bytes) -> None:
        self._salt = salt
        # (category, stratum) -> digest -> [packets, packets >= gate, packets >= gate - near, key]
        self._seen: dict[tuple[str, str], dict[bytes, list[Any]]] = {}
        # Repeats of a key within the window skip blake2b (most adverts are repeats). The memo
        # holds keys only as long as the salt lives and is dropped with it.
        self._memo: dict[bytes, bytes] = {}

    def add(self, category: str, stratum: str, key: bytes, above: bool, near: bool) -> None:
        digest = self._memo.get(key)
        if digest is None:
            digest = hashlib.blake2b(key, key=self._salt, digest_size=DIGEST_BYTES).digest()
            self._memo[key] = digest
        bucket = self._seen.get((category, stratum))
        if bucket is None:
            bucket = self._seen[(category, stratum)] = {}
        tally = bucket.get(digest)
        if tally is None:
            tally = bucket[digest] = [0, 0, 0, key]
        tally[0] += 1
        tally[1] += above
        tally[2] += near

    def decide(self) -> tuple[dict[tuple[str, str], list[bytes]], int]:
        """Keys on site per stratum (at least half their packets at or over the gate, i.e. a
        median at or over it) and how many devices had a median just below it."""
        onsite: dict[tuple[str, str], list[bytes]] = {}
        near_devices: set[bytes] = set()
        for stratum, bucket in self._seen.items():
            keep = onsite[stratum] = []
            for digest, (n, above, near, key) in bucket.items():
                if 2 * above >= n:
                    keep.append(key)
                elif 2 * near >= n:
                    near_devices.add(digest)
        return onsite, len(near_devices)

    def forget(self) -> None:
        # Drop digests and salt together; without the salt a digest cannot be re-linked anyway.
        self._seen.clear()
        self._memo.clear()
        self._salt = b""


class SlotHistory:
    """Per quarter-hour slot: which of the slot's windows each (salted) key was on site in."""

    __slots__ = ("_listened", "_salt", "_seen")

    def __init__(self, salt: bytes) -> None:
        self._salt = salt
        # digest -> bitmask of the slot's windows; no memo of raw keys: they must not outlive
        # their window (one hash per device and window is cheap).
        self._seen: dict[tuple[str, str], dict[bytes, int]] = {}
        self._listened = 0

    def add_window(self, index: int, onsite: dict[tuple[str, str], list[bytes]]) -> None:
        bit = 1 << index
        self._listened |= bit
        for stratum, keys in onsite.items():
            bucket = self._seen.setdefault(stratum, {})
            for key in keys:
                digest = hashlib.blake2b(key, key=self._salt, digest_size=DIGEST_BYTES).digest()
                bucket[digest] = bucket.get(digest, 0) | bit

    def distinct(self, stratum: tuple[str, str]) -> int:
        return len(self._seen.get(stratum, ()))

    def captures(self, categories: frozenset[str], k_min: int) -> dict[str, dict[str, SlotCapture]]:
        """Aggregate histories per stratum; a stratum with fewer than `k_min` devices in the
        slot is withheld, so no histogram describes fewer than k_min people."""
        ls = self._listened
        n = ls.bit_count()
        if n == 0:
            return {}
        pairs1 = (ls & ls >> 1).bit_count()
        pairs2 = (ls & ls >> 1 & ls >> 2).bit_count()
        out: dict[str, dict[str, SlotCapture]] = {}
        for (cat, stratum), bucket in sorted(self._seen.items()):
            if cat not in categories or not bucket or len(bucket) < k_min:
                continue
            seen = [0] * n
            lag1 = lag2 = run3 = 0
            for m in bucket.values():
                seen[m.bit_count() - 1] += 1
                lag1 += (m & m >> 1).bit_count()
                lag2 += (m & m >> 2 & ls >> 1).bit_count()
                run3 += (m & m >> 1 & m >> 2).bit_count()
            out.setdefault(cat, {})[stratum] = SlotCapture(
                n, pairs1, pairs2, tuple(seen), lag1, lag2, run3
            )
        return out

    def forget(self) -> None:
        self._seen.clear()
        self._salt = b""
