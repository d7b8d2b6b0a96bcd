"""End-to-end acks while a backlog drains: not awaited, at most one per node a second, the
latest value always delivered, a lost one sent again (AckPublisher, with a recording paho)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from aggregator.ingest.acks import AckPublisher


@dataclass
class Info:
    published: bool = False

    def is_published(self) -> bool:
        return self.published


@dataclass
class Paho:
    sent: list[tuple[str, int, Info]] = field(default_factory=list)
    auto: bool = True  # the broker's PUBACK comes at once

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> Info:
        assert qos == 1 and retain and topic.endswith("/ack")
        info = Info(self.auto)
        self.sent.append((json.loads(payload)["node"], json.loads(payload)["seq"], info))
        return info


def test_a_drain_gets_one_ack_per_node_a_second_and_the_latest_at_the_end() -> None:
    async def run() -> list[tuple[str, int]]:
        paho, now = Paho(), [0.0]
        acks = AckPublisher(min_interval_s=0.2, clock=lambda: now[0])
        for seq in range(10):  # ten batches within 0.2 s, each touching both nodes
            acks.after_commit(paho, {"n1": ("s1", seq), "n2": ("s1", seq)})
            now[0] += 0.01
        assert [(n, s) for n, s, _ in paho.sent] == [("n1", 0), ("n2", 0)]
        now[0] += 0.2
        await asyncio.sleep(0.3)  # the timer sends what was deferred
        return [(n, s) for n, s, _ in paho.sent]

    assert asyncio.run(run()) == [("n1", 0), ("n2", 0), ("n1", 9), ("n2", 9)]


def test_a_live_node_is_acked_at_once_and_only_when_its_seq_moves() -> None:
    async def run() -> list[tuple[str, int]]:
        paho, now = Paho(), [0.0]
        acks = AckPublisher(min_interval_s=1.0, clock=lambda: now[0])
        for seq in (0, 1, 1, 2):  # one window a minute; a duplicate in between
            acks.after_commit(paho, {"n1": ("s1", seq)})
            now[0] += 60
        return [(n, s) for n, s, _ in paho.sent]

    assert asyncio.run(run()) == [("n1", 0), ("n1", 1), ("n1", 2)]


def test_an_ack_without_its_puback_is_sent_again_with_the_next_batch() -> None:
    async def run() -> list[tuple[str, int]]:
        paho, now = Paho(auto=False), [0.0]
        acks = AckPublisher(min_interval_s=1.0, clock=lambda: now[0])
        acks.after_commit(paho, {"n1": ("s1", 4)})  # the connection drops: no PUBACK
        now[0] += 60
        paho.auto = True
        acks.after_commit(paho, {"n1": ("s1", 4)})  # a re-sent duplicate: same ack again
        now[0] += 60
        acks.after_commit(paho, {"n1": ("s1", 4)})  # now the broker has it
        acks.cancel()
        return [(n, s) for n, s, _ in paho.sent]

    assert asyncio.run(run()) == [("n1", 4), ("n1", 4)]


class FailedInfo(Info):
    def is_published(self) -> bool:  # paho, for a publish made while disconnected
        raise RuntimeError("Message publish failed: The client is not currently connected.")


def test_an_ack_published_while_disconnected_is_sent_again_not_raised() -> None:
    async def run() -> list[tuple[str, int]]:
        paho, now = Paho(), [0.0]
        acks = AckPublisher(min_interval_s=1.0, clock=lambda: now[0])
        acks.after_commit(paho, {"n1": ("s1", 4)})
        paho.sent[-1] = ("n1", 4, FailedInfo())
        acks._unconfirmed["n1"] = (4, paho.sent[-1][2])
        now[0] += 5
        acks.after_commit(paho, {"n1": ("s1", 4)})  # must not raise; sends it again
        acks.cancel()
        return [(n, s) for n, s, _ in paho.sent]

    assert asyncio.run(run()) == [("n1", 4), ("n1", 4)]
