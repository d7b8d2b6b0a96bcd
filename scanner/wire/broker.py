"""Where the broker is and how to reach it, shared by node and aggregator (stdlib only).

One URL parser (with user and password), one TLS context builder, one capped and jittered
backoff, and one explanation of a failed connection, read from the exception's structured fields
(errno, the MQTT reason code, the TLS verification error) rather than from its message text.
"""

from __future__ import annotations

import asyncio
import errno
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scanner.errors import ScannerError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerConfigError(ScannerError, ValueError):
    """A broker URL or TLS option that cannot work; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def describe(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        who = f"{self.username}@" if self.username else ""
        return f"{scheme}://{who}{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        try:
            ctx = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
            if self.cert_file is not None:
                ctx.load_cert_chain(
                    str(self.cert_file), str(self.key_file) if self.key_file else None
                )
        except (OSError, ssl.SSLError) as exc:
            raise BrokerConfigError(f"TLS files for {self.describe()}: {exc}") from exc
        return ctx


def parse_broker_url(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> BrokerConfig:
    """`mqtt://host:port`, `mqtts://user:pass@host:port` or bare `host:port` (plain MQTT).

    Separate options override credentials in the URL (a password in a URL ends up in shell
    history; `--password` can come from the environment instead).
    """
    text = url.strip()
    if "://" not in text:
        text = "mqtt://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise BrokerConfigError(f"broker {url!r}: {exc}") from exc
    if parts.scheme not in DEFAULT_PORTS:
        raise BrokerConfigError(f"broker {url!r}: use mqtt://host:port or mqtts://host:port")
    if not parts.hostname:
        raise BrokerConfigError(f"broker {url!r}: no host name")
    tls = parts.scheme == "mqtts"
    if not tls and (ca_file or cert_file):
        raise BrokerConfigError(f"broker {url!r}: TLS files given but the URL is not mqtts://")
    return BrokerConfig(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        tls=tls,
        username=username if username is not None else _unq(parts.username),
        password=password if password is not None else _unq(parts.password),
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
    )


def _unq(text: str | None) -> str | None:
    return None if text is None else unquote(text)


# MQTT CONNACK reason codes that mean "your credentials": 3.1.1 (4, 5) and 5.0 (134, 135).
_AUTH_CODES = frozenset({4, 5, 134, 135})


def _reason_code(exc: BaseException) -> int | None:
    rc = getattr(exc, "rc", None)
    value = getattr(rc, "value", rc)
    return value if isinstance(value, int) else None


def explain(exc: BaseException, broker: BrokerConfig) -> str:
    """A one-line reason a connection failed, with what to do about it."""
    where = broker.describe()
    text = str(exc) or type(exc).__name__
    chain = [exc, *(e for e in (exc.__cause__, exc.__context__) if e is not None)]
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return (
                f"{where}: TLS certificate not trusted ({e.verify_message}); pass the CA that "
                "signed the broker's certificate with --ca-file"
            )
        if isinstance(e, ssl.SSLError) and e.reason == "WRONG_VERSION_NUMBER":
            return f"{where}: TLS handshake failed ({text}): is the port a TLS listener?"
        if _reason_code(e) in _AUTH_CODES:
            return (
                f"{where}: the broker refused the login ({text}): check --username/--password "
                "and the broker's password file"
            )
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return f"{where}: connection refused: is the broker running and listening there?"
    return f"{where}: {text}"


class Backoff:
    """Capped exponential backoff with full jitter, so a fleet of nodes does not reconnect in step.

    `next()` gives the delay before the next attempt; `reset()` after a session that worked.
    """

    def __init__(
        self, min_s: float = 0.5, max_s: float = 30.0, *, rand: Callable[[], float] = random.random
    ) -> None:
        self.min_s, self.max_s = min_s, max_s
        self._rand = rand
        self._ceiling = min_s

    def reset(self) -> None:
        self._ceiling = self.min_s

    def next(self) -> float:
        delay = self.min_s + (self._ceiling - self.min_s) * self._rand()
        self._ceiling = min(self._ceiling * 2, self.max_s)
        return delay


def cancelling() -> bool:
    """Whether the running task has been asked to stop: a `CancelledError` it caught must then
    propagate, never be turned into a reconnect (the stop would hang)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
