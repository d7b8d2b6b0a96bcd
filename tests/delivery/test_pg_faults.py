"""`bzagg serve` on a PostgreSQL store that refuses writes (a read-only database, as a standby or
`default_transaction_read_only` makes it) or drops the connection: it says what is wrong once,
takes nothing from the broker meanwhile (or keeps it unacknowledged) and recovers by itself."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from aggregator.store import open_store
from tests.delivery.helpers import BZAGG, BZSCAN, Proc, wait_until, write_jsonl_capture
from tests.mosquitto import Mosquitto
from tests.postgres import Postgres

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]
NODE = "node-a"


def _admin(postgres: Postgres, sql: str) -> None:
    with psycopg.connect(postgres.url(), autocommit=True) as con:
        con.execute(sql)


def _read_only(postgres: Postgres, name: str, on: bool) -> None:
    _admin(postgres, f'ALTER DATABASE "{name}" SET default_transaction_read_only = '
                     f"{'on' if on else 'off'}")  # fmt: skip


def _drop_sessions(postgres: Postgres, name: str) -> None:
    _admin(postgres, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")  # fmt: skip


def _scan(tmp_path: Path, broker: Mosquitto) -> Proc:
    cap = write_jsonl_capture(tmp_path / "v.jsonl", 8)
    return Proc(
        [BZSCAN, "--replay", str(cap), "--window", "1", "--node", NODE, "--site", "site-1",
         "--broker", broker.url, "--outbox", str(tmp_path / "o.sqlite3"), "--no-progress",
         "--drain-timeout", "60", "--resend-after", "2"],
        tmp_path, "scan",
    )  # fmt: skip


def _counts(url: str) -> tuple[int, int, int]:
    """Windows stored, duplicated (by key, impossible by the schema, checked anyway), rejected."""
    store = open_store(url)
    try:
        seqs = [w.seq for w in store.windows(NODE)]
        return len(seqs), len(seqs) - len(set(seqs)), len(store.rejects())
    finally:
        store.close()


def test_serve_started_on_a_read_only_database_recovers_by_itself(
    mosquitto: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    url = postgres.new_database()
    name = url.rsplit("/", 1)[1]
    open_store(url).close()  # migrated, then made read-only
    _read_only(postgres, name, True)
    agg = Proc([BZAGG, "serve", "--broker", mosquitto.url, "--db", url], tmp_path, "agg")
    scan = None
    try:
        agg.wait_stderr("cannot be written")
        assert "read-only" in agg.stderr()
        assert "subscribed" not in agg.stderr()
        _read_only(postgres, name, False)
        agg.wait_stderr("writable again")
        agg.wait_stderr("subscribed")
        assert agg.stderr().count("cannot be written") == 1  # once per state change
        scan = _scan(tmp_path, mosquitto)
        assert scan.wait(60) == 0, scan.stderr()
        assert _counts(url) == (8, 0, 0)  # stored / duplicated / rejected of 8 expected
    finally:
        if scan is not None:
            scan.kill()
        agg.terminate()


def test_database_turning_read_only_while_serving_keeps_windows_until_it_is_writable(
    mosquitto: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    url = postgres.new_database()
    name = url.rsplit("/", 1)[1]
    agg = Proc([BZAGG, "serve", "--broker", mosquitto.url, "--db", url], tmp_path, "agg")
    scan = None
    try:
        agg.wait_stderr("subscribed")
        # The aggregator's session is cut (a failover) and the server it reaches next is
        # read-only (a standby not yet promoted).
        _read_only(postgres, name, True)
        _drop_sessions(postgres, name)
        scan = _scan(tmp_path, mosquitto)
        wait_until(lambda: "read-only" in agg.stderr(), 30, "the read-only cause in the log")
        assert _counts_when_readable(url) == 0
        _read_only(postgres, name, False)
        assert scan.wait(60) == 0, scan.stderr()
        agg.wait_stderr("writable again after")
        err = agg.stderr()
        assert err.count("cannot be written") <= 3  # one line per change of cause, no flood
        assert _counts(url) == (8, 0, 0)
    finally:
        if scan is not None:
            scan.kill()
        agg.terminate()


def _counts_when_readable(url: str) -> int:
    # Reading is allowed on a read-only database: nothing was stored meanwhile.
    store = open_store(url, read_only=True)
    try:
        return len(store.windows(NODE))
    finally:
        store.close()
