"""Users file, password hashing, the login limiter and the `bzagg web` command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from aggregator.cli.main import main as bzagg
from aggregator.web.auth import LoginLimiter, Signer, UsersError, add_user, load_users, verify


def test_users_file_is_private_and_hashed(tmp_path: Path) -> None:
    users = tmp_path / "etc" / "users"
    assert add_user(users, "alice", "a long password") is True
    assert add_user(users, "alice", "another long one") is False  # a new password, same user
    assert add_user(users, "bob", "bobs long password") is True
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    text = users.read_text()
    assert "long" not in text and text.count("$argon2id$") == 2
    table = load_users(users)
    assert verify(table, "alice", "another long one")
    assert not verify(table, "alice", "a long password")
    assert not verify(table, "carol", "another long one")


def test_bad_users_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(UsersError, match="at least 10"):
        add_user(tmp_path / "u", "alice", "short")
    with pytest.raises(UsersError, match="user names"):
        add_user(tmp_path / "u", "al ice", "long enough pw")
    bad = tmp_path / "bad"
    bad.write_text("alice:plaintext\n")
    with pytest.raises(UsersError, match=r"bad:1: expected"):
        load_users(bad)
    with pytest.raises(UsersError, match="cannot read the users file"):
        load_users(tmp_path / "missing")


def test_limiter_counts_per_address_and_user_and_forgets() -> None:
    now = [1000.0]
    lim = LoginLimiter(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert lim.retry_after("10.0.0.1", "alice") is None
        lim.failed("10.0.0.1", "alice")
    assert lim.retry_after("10.0.0.1", "bob") == pytest.approx(60)  # the address is blocked
    assert lim.retry_after("10.0.0.2", "alice") == pytest.approx(60)  # and the user name
    assert lim.retry_after("10.0.0.2", "bob") is None
    now[0] += 61
    assert lim.retry_after("10.0.0.1", "alice") is None


def test_signed_session_expires_and_resists_tampering() -> None:
    s = Signer(b"k" * 32, max_age_s=60)
    cookie = s.session_cookie("alice")
    session = s.session(cookie)
    assert session is not None and session.user == "alice" and len(session.csrf) > 20
    assert s.session(cookie[:-2] + "xx") is None
    assert Signer(b"other key" * 4, 60).session(cookie) is None
    assert s.session(s.login_cookie()[0]) is None  # a login-form cookie is no session


def test_cli_adduser_and_serve_errors(tmp_path: Path) -> None:
    users = tmp_path / "users"
    r = CliRunner().invoke(bzagg, ["web", "adduser", "alice", "--users", str(users)],
                           input="a long password\na long password\n")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "alice" in load_users(users)
    r = CliRunner().invoke(bzagg, ["web", "adduser", "bob", "--users", str(users),
                                   "--password-stdin"], input="short\n")  # fmt: skip
    assert r.exit_code == 1 and "at least 10" in r.output
    r = CliRunner().invoke(bzagg, ["web", "--db", str(tmp_path / "none.sqlite3")])
    assert r.exit_code == 2 and "--users FILE is required" in r.output
    r = CliRunner().invoke(bzagg, ["web", "--users", str(users), "--db",
                                   str(tmp_path / "none.sqlite3")])  # fmt: skip
    assert r.exit_code == 1 and "no store at" in r.output
    r = CliRunner().invoke(bzagg, ["web", "--listen", "8080", "--users", str(users)])
    assert r.exit_code == 2 and "HOST:PORT" in r.output
    r = CliRunner().invoke(bzagg, ["web", "--timezone", "Mars/Base", "--users", str(users)])
    assert r.exit_code == 2 and "time zone" in r.output
