"""Shared helpers for delivery tests: captures, windows, the installed console scripts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from scanner.sources.replay.write import write_capture
from scanner.wire.schema import Health, WindowReport
from tests.factories import raw_advert

BIN = Path(sys.executable).parent
BZSCAN = str(BIN / "bzscan")
BZAGG = str(BIN / "bzagg")
T0 = 1_700_000_100  # a multiple of 900: windows of any length start on it


def write_jsonl_capture(path: Path, seconds: int, *, per_s: int = 4, t0: float = T0) -> Path:
    """iPhones and a Bluezone iOS foreground phone advertising steadily for `seconds`."""

    def gen() -> Iterator[object]:
        for i in range(seconds * per_s):
            t = t0 + i / per_s + 0.01
            yield raw_advert("iphone", t=t, address=f"4A:00:00:00:00:{i % 3:02X}", rssi_dbm=-60)
            yield raw_advert("bz_ios_fg_v2", t=t + 0.001, address="5B:00:00:00:00:01", rssi_dbm=-55)

    write_capture(path, gen(), "jsonl")  # type: ignore[arg-type]
    return path


def window(node: str, site: str, i: int, *, window_s: int = 60, seq: int = 0) -> WindowReport:
    return WindowReport(
        node=node, site=site, seq=seq, window_start=T0 + i * window_s, window_s=window_s,
        counts={"bluezone": {"ios_fg": i % 5}, "iphone": {"all": 3}},
        health=Health(scanned_s=float(window_s), adverts=100 + i, mode="replay"),
    )  # fmt: skip


class Proc:
    """A console script run as a user would, output in files so pipes never fill up."""

    def __init__(
        self, args: list[str], workdir: Path, name: str, env: dict[str, str] | None = None
    ) -> None:
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        with self.out.open("ab") as o, self.err.open("ab") as e:
            self.p = subprocess.Popen(
                args, stdout=o, stderr=e, cwd=workdir, env={**os.environ, **(env or {})}
            )

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_stderr(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr():
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"{text!r} not in stderr (rc={self.p.poll()}):\n{self.stderr()[-3000:]}"
        )

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        return self.p.wait(timeout)


def wait_until(cond: object, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def store_seqs(db: Path, node: str) -> list[int]:
    """Seqs stored for `node`, read the way a report would (a second connection, WAL)."""
    import sqlite3

    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=10)
    try:
        return [
            r[0]
            for r in con.execute("SELECT seq FROM windows WHERE node = ? ORDER BY seq", (node,))
        ]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def outbox_rows(path: Path) -> list[tuple[int, int, bool]]:
    """(seq, window_start, sent) of every outbox row."""
    import sqlite3

    con = sqlite3.connect(path, timeout=10)
    try:
        rows = con.execute("SELECT seq, window_start, sent_at FROM outbox ORDER BY seq")
        return [(s, w, sent is not None) for s, w, sent in rows]
    except sqlite3.OperationalError as exc:
        # The scanner process may have created the file but not yet its schema.
        if "no such table" in str(exc):
            return []
        raise
    finally:
        con.close()


class OrderWatcher:
    """mosquitto_sub on a persistent session: the order windows reach a subscriber."""

    def __init__(self, broker: object, workdir: Path) -> None:
        from tests.mosquitto import require

        self.broker = broker
        self.file = workdir / "order.txt"
        with self.file.open("wb") as out:
            self.p = subprocess.Popen(
                [require("mosquitto_sub"), "-h", "127.0.0.1", "-p", str(broker.port),  # type: ignore[attr-defined]
                 "-q", "1", "-c", "-i", "order-check", "-t", "bzaudit/v1/+/+/window"],
                stdout=out, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        wait_until(
            lambda: "order-check 1 bzaudit/v1/+/+/window" in broker.log_text(),  # type: ignore[attr-defined]
            10, "mosquitto_sub to subscribe",
        )  # fmt: skip

    def seqs(self, node: str) -> list[int]:
        import json

        out = []
        for line in self.file.read_text().splitlines():
            obj = json.loads(line)
            if obj["node"] == node:
                out.append(obj["seq"])
        return out

    def first_arrivals(self, node: str) -> list[int]:
        return list(dict.fromkeys(self.seqs(node)))

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
        self.p.wait(10)
