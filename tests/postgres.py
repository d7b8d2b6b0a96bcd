"""A real PostgreSQL server for tests (Debian's `postgresql` package), one per test session.

initdb in a temporary data directory, served on a free loopback port by an unprivileged user
(PostgreSQL refuses to run as root: as root the commands run as the `postgres` system user via
runuser). Each test asks for a new database. Skips when PostgreSQL is missing, fails when CI=true.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.mosquitto import free_port, wait_port

PG_USER = "postgres"


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI ({why}; scripts/install-system-deps.sh)")
    pytest.skip(f"PostgreSQL not available: {why}")


@dataclass
class Postgres:
    bindir: Path
    root: Path
    port: int
    as_user: list[str]
    _n: int = field(default=0)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{db}"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, str(self.bindir / tool), *args],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip

    def start(self, *, durable: bool = False) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=60"
        if not durable:  # tests need no crash safety; benchmarks pass durable=True
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self.run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"),
                 "-w", "-t", "60", "start")  # fmt: skip
        wait_port(self.port, 30)

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def new_database(self) -> str:
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_postgres(*, durable: bool = False) -> Postgres:
    """initdb + start; raises (CalledProcessError, TimeoutError) when the server cannot start."""
    bindir = pg_bin()
    if bindir is None:
        raise FileNotFoundError("initdb not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="bz-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam(PG_USER)  # KeyError: no such system user
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", PG_USER, "--"]
    root.chmod(0o700)
    pg = Postgres(bindir, root, free_port(), as_user)
    pg.run("initdb", "-D", str(pg.data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
           "--locale=C", "--no-sync")  # fmt: skip
    pg.start(durable=durable)
    return pg


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg not installed (pip install -e '.[aggregator]')")
    try:
        pg = start_postgres()
    except (OSError, KeyError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        _unavailable(f"cannot start the server: {detail}")
    yield pg
    pg.stop()
    shutil.rmtree(pg.root, ignore_errors=True)
