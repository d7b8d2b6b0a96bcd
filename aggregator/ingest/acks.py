"""The end-to-end acks a subscriber publishes after each commit (docs/architecture.md §7).

Per node whose highest contiguous committed seq moved: retained, QoS 1, on
`bzaudit/v1/<site>/<node>/ack`. Two things keep them cheap while a backlog drains, when every
batch touches every node (500 acks per 1000 windows):

- they are handed to paho and not awaited (awaiting the broker's PUBACKs after every batch cost
  a round trip and a sixth of the CPU); an ack counts as sent once its PUBACK has come, which
  is checked at the next batch, and one that never got it is sent again with its node's next
  batch, so a lost ack is never taken for a delivered one;
- a node gets at most one ack per `min_interval_s`: a later value within that time goes out
  with a later batch or, at the latest, when the interval has passed (a timer on the event
  loop). A node that sends one window a minute never waits for this.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from scanner.wire.topics import ack_topic, encode_ack


class AckPublisher:
    def __init__(
        self, *, min_interval_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._min_interval = min_interval_s
        self._clock = clock
        self._acked: dict[str, int] = {}  # the broker has it
        self._sent_at: dict[str, float] = {}
        self._due: dict[str, tuple[str, int]] = {}  # node -> (site, seq) not sent yet
        self._unconfirmed: dict[str, tuple[int, Any]] = {}  # node -> (seq, paho's info), latest
        self._timer: asyncio.TimerHandle | None = None

    def after_commit(self, paho: Any, acks: Mapping[str, tuple[str, int]]) -> None:
        """Publish the acks of a committed batch (paho: the subscriber's paho client); call
        from the event loop."""
        for node, (seq, info) in list(self._unconfirmed.items()):
            state = _published(info)
            if state is not None:
                del self._unconfirmed[node]
                if state:
                    self._acked[node] = seq
        self._due.update(acks)
        now = self._clock()
        for node, (site, seq) in list(self._due.items()):
            if self._acked.get(node) == seq:
                del self._due[node]
            elif now - self._sent_at.get(node, -1e18) >= self._min_interval:
                info = paho.publish(ack_topic(site, node), encode_ack(node, seq), qos=1,
                                    retain=True)  # fmt: skip
                self._unconfirmed[node] = (seq, info)
                self._sent_at[node] = now
                del self._due[node]
        if self._due and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self._min_interval, self._flush, paho
            )

    def _flush(self, paho: Any) -> None:
        self._timer = None
        self.after_commit(paho, {})

    def cancel(self) -> None:
        """The session ended: what is due goes out with the next session's first batch."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _published(info: Any) -> bool | None:
    """True once the broker has it, None while in flight, False if paho gave up on it (it was
    published while disconnected: paho raises instead of answering)."""
    try:
        return True if info.is_published() else None
    except (RuntimeError, ValueError):
        return False
