"""A real Mosquitto for tests: plain, or TLS + password file + ACL (shared/test-infra.md §2).

Each broker runs on a free loopback port from a config written under tmp_path, is stopped and
restarted by PID on the same port, and keeps its persistence file there, so a restart behaves
like a production broker coming back (sessions and queued QoS 1 messages survive a clean stop).
Skips when mosquitto is missing, but fails when CI=true.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

AGGREGATOR_USER = ("bzagg", "aggregator-pw-1")
NODE_USERS = {"node-a": "node-a-pw-1", "node-b": "node-b-pw-1"}


def require(binary: str) -> str:
    path = shutil.which(binary) or (
        f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None
    )
    if path is None:
        if IN_CI:
            pytest.fail(f"{binary} is required in CI (apt-get install mosquitto mosquitto-clients)")
        pytest.skip(f"{binary} not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    other_ca: Path  # a CA that did not sign the server certificate


def make_tls(d: Path) -> TlsFiles:
    d.mkdir(parents=True, exist_ok=True)
    openssl = require("openssl")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True)

    for name, cn in (("ca", "bzaudit-test-ca"), ("other", "other-ca")):
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", f"/CN={cn}",
            "-keyout", f"{name}.key", "-out", f"{name}.crt")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")  # fmt: skip
    (d / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "30", "-extfile", "server.ext", "-out", "server.crt")  # fmt: skip
    return TlsFiles(d / "ca.crt", d / "server.crt", d / "server.key", d / "other.crt")


class Mosquitto:
    """One broker process; `stop()`/`start()` keep the port and the persistence file."""

    def __init__(
        self,
        workdir: Path,
        *,
        tls: bool = False,
        persistence: bool = True,
        autosave_s: int = 1,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.binary = require("mosquitto")
        self.persistence = persistence
        self.autosave_s = autosave_s
        self.extra = extra
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls: TlsFiles | None = make_tls(self.dir / "tls") if tls else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "mosquitto.log"
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(self._config())

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def _config(self) -> str:
        lines = [
            "per_listener_settings false",
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.dir}/",
            f"autosave_interval {self.autosave_s}",
            # Queue without limit for the aggregator's persistent session during tests.
            "max_queued_messages 0",
            "max_inflight_messages 100",
            f"log_dest file {self.log}",  # flushed per line, unlike stdout to a file
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_type subscribe",
            *self.extra,
            f"listener {self.port} 127.0.0.1",
        ]
        if os.geteuid() == 0:
            lines.insert(0, "user root")  # else mosquitto drops to `mosquitto` and cannot read keys
        if self.tls is None:
            lines.append("allow_anonymous true")
            return "\n".join(lines) + "\n"
        passwd = self.dir / "passwd"
        tool = require("mosquitto_passwd")
        passwd.write_text("")
        for user, pw in [AGGREGATOR_USER, *NODE_USERS.items()]:
            subprocess.run([tool, "-b", str(passwd), user, pw], check=True, capture_output=True)
        repo_acl = Path(__file__).resolve().parents[1] / "deploy" / "server" / "acl"
        acl = self.dir / "acl"
        acl.write_text(repo_acl.read_text())
        lines += [
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {acl}",
            f"cafile {self.tls.ca}",
            f"certfile {self.tls.server_cert}",
            f"keyfile {self.tls.server_key}",
            "tls_version tlsv1.2",
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        out = self.log.open("ab")
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=out, stderr=out)
        out.close()
        try:
            wait_port(self.port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"mosquitto did not start:\n{self.log.read_text()[-2000:]}"
            ) from None

    def stop(self) -> None:
        """SIGTERM: mosquitto saves its persistence file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: whatever was not autosaved yet is gone, as after a power cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mqtt")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mosquitto_tls(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mqtt-tls", tls=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
