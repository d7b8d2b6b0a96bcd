"""Three costs of paho 2.x and aiomqtt that only a backlog drain notices, taken off the
aggregator's client (the subscriber's MQTT library stays aiomqtt, in subscribe.py).

1. A read-ahead buffer under paho's socket: one recv per 64 KiB instead of three per message.
paho 2.x reads every packet with a 1-byte recv for its type, one per byte of its length and one
for its body, and `loop_read` handles one packet per readable event. Draining a backlog of
~450-byte windows that was three system calls and one event-loop turn per message: a tenth of
the aggregator's CPU (py-spy, bench/ingest.py --profile). Here recv is served from one large
read, and `pending()` reports what is buffered, which aiomqtt's reader callback already honours
(it keeps calling `loop_read` while `pending()` is non-zero, for the bytes an SSL socket has
decrypted): so buffered packets are handled without waiting for the socket to become readable
again, which it would not (their bytes have left the kernel).

2. No per-topic callback lookup. For every message paho walks its tree of
`message_callback_add` filters (a recursive generator over the topic's levels) before it calls
`on_message`, even when there are none: another tenth of the CPU. The subscriber registers
none, so the lookup is replaced by one that finds none (and refuses a registration, should one
ever be made, instead of ignoring it).

3. No per-message wrapper. aiomqtt copies each paho message into its own Message, validating a
topic that `judge` parses anyway (a twentieth of the CPU): paho's messages go into the batch as
they are (`raw_messages`).
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias, cast

from paho.mqtt.client import MQTTMessage

READ_BYTES = 1 << 16
Incoming: TypeAlias = MQTTMessage  # what the subscriber batches: paho's message as it is


class ReadAheadSocket:
    """Wraps a non-blocking socket (plain or SSL); everything but recv/pending is the socket's."""

    __slots__ = ("_buf", "_pos", "_sock")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._buf):
            # Raises BlockingIOError / ssl.SSLWantReadError as the socket would: paho handles
            # both. b"" (closed) is passed on as is.
            data: bytes = self._sock.recv(max(bufsize, READ_BYTES))
            if len(data) <= bufsize:
                return data
            self._buf, self._pos = data, 0
        end = self._pos + bufsize
        out = self._buf[self._pos : end]
        self._pos = min(end, len(self._buf))
        return out

    def pending(self) -> int:
        inner = getattr(self._sock, "pending", None)
        return len(self._buf) - self._pos + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class NoFilters:
    """Stands in for paho's MQTTMatcher of per-topic callbacks when there are none."""

    def iter_match(self, topic: str) -> tuple[()]:
        return ()

    def __setitem__(self, key: str, value: object) -> None:
        raise RuntimeError("paho_tuning: per-topic callbacks are not supported on this client")


def install(paho: Any) -> None:
    """Before aiomqtt connects: wrap each socket paho opens (before aiomqtt registers it with
    the event loop), and drop the empty per-topic callback lookup."""
    # Only when no filter is registered (a tree without children).
    if not paho._on_message_filtered._root._children:  # noqa: SLF001
        paho._on_message_filtered = NoFilters()  # noqa: SLF001
    opened = paho.on_socket_open

    def on_socket_open(client: Any, userdata: Any, sock: Any) -> None:
        client._sock = ReadAheadSocket(sock)  # noqa: SLF001
        if opened is not None:
            opened(client, userdata, sock)

    paho.on_socket_open = on_socket_open


def raw_messages(client: Any) -> tuple[Any, asyncio.Queue[Incoming]]:
    """The private attributes of an aiomqtt.Client the subscriber needs, in one place.

    aiomqtt 2.x (pinned `>=2.3,<3` in setup.cfg) has no manual-ack API: we switch its paho client
    to manual acks to acknowledge only after a commit, and read its message queue directly to
    fill a batch without waiting an event-loop turn per message; paho's own messages go into
    that queue (3. above) and its socket is tuned (`install`). Checked against aiomqtt 2.5.1
    and paho-mqtt 2.2.
    """
    paho: Any = client._client  # noqa: SLF001
    paho.manual_ack_set(True)
    install(paho)
    queue: asyncio.Queue[Incoming] = cast(Any, client._queue)  # noqa: SLF001

    def on_message(_client: Any, _userdata: Any, message: Incoming) -> None:
        queue.put_nowait(message)  # unbounded: the broker's in-flight window bounds it

    paho.on_message = on_message
    return paho, queue


def topic(m: Incoming) -> str:
    try:
        return m.topic
    except UnicodeDecodeError:  # not a topic of ours: `judge` rejects it with its reason
        return m._topic.decode("utf-8", "replace")  # noqa: SLF001
