"""Dashboard users, passwords, login rate limits and signed session cookies.

Passwords are argon2id hashes (argon2-cffi) in a users file of `name:hash` lines, written by
`bzagg web adduser`. Sessions are itsdangerous-signed cookies carrying the user name and a CSRF
token; their Secure flag follows the scheme the request arrived with (https behind the proxy),
which Starlette's SessionMiddleware cannot do per request.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from aggregator.errors import AggregatorError

USER_RE: Final = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
SESSION_COOKIE: Final = "bzagg_session"
LOGIN_COOKIE: Final = "bzagg_login"  # the CSRF token of the login form, before any session
MIN_PASSWORD: Final = 10


class UsersError(AggregatorError):
    """The users file cannot be read or written; the message names the file and the line."""


_HASHER = PasswordHasher()
# Verified when the user does not exist, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def load_users(path: Path) -> dict[str, str]:
    """name -> argon2 hash; a missing file is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersError(f"{path}: cannot read the users file ({exc.strerror}); "
                         "create it with `bzagg web adduser`") from exc  # fmt: skip
    users = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, digest = line.partition(":")
        if not sep or not USER_RE.fullmatch(name) or not digest.startswith("$argon2"):
            raise UsersError(f"{path}:{n}: expected `name:$argon2id$...`")
        users[name] = digest
    return users


def add_user(path: Path, name: str, password: str) -> bool:
    """Add `name` or replace its password; True when the user is new. The file is mode 0600."""
    if not USER_RE.fullmatch(name):
        raise UsersError(f"{name!r}: user names are 1-64 letters, digits or _ . @ -")
    if len(password) < MIN_PASSWORD:
        raise UsersError(f"the password must have at least {MIN_PASSWORD} characters")
    users = load_users(path) if path.exists() else {}
    new = name not in users
    users[name] = _HASHER.hash(password)
    body = "# bzagg web users: name:argon2id hash (bzagg web adduser)\n" + "".join(
        f"{k}:{v}\n" for k, v in sorted(users.items())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return new


def verify(users: dict[str, str], name: str, password: str) -> bool:
    """Constant work whether or not the user exists (argon2 verify either way)."""
    digest = users.get(name, _DUMMY_HASH)
    try:
        ok = _HASHER.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and name in users


@dataclass(slots=True)
class LoginLimiter:
    """At most `max_failures` wrong logins per client address and per user name per window."""

    max_failures: int = 5
    window_s: float = 900.0
    clock: Callable[[], float] = time.time
    _failures: dict[str, list[float]] = field(default_factory=dict)

    def retry_after(self, client: str, user: str) -> float | None:
        """Seconds until a login may be tried again, or None when it may be tried now."""
        now = self.clock()
        waits = []
        for key in (f"ip:{client}", f"user:{user}"):
            recent = [t for t in self._failures.get(key, ()) if now - t < self.window_s]
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)
            if len(recent) >= self.max_failures:
                waits.append(recent[0] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, client: str, user: str) -> None:
        now = self.clock()
        for key in (f"ip:{client}", f"user:{user}"):
            self._failures.setdefault(key, []).append(now)

    def succeeded(self, user: str) -> None:
        self._failures.pop(f"user:{user}", None)


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    csrf: str


class Signer:
    """Signs and checks the session and login-form cookies (itsdangerous, HMAC-SHA1 default)."""

    def __init__(self, secret: bytes, max_age_s: int) -> None:
        self.max_age_s = max_age_s
        self._session = URLSafeTimedSerializer(secret, salt="bzagg-web-session")
        self._login = URLSafeTimedSerializer(secret, salt="bzagg-web-login")

    def session_cookie(self, user: str) -> str:
        return str(self._session.dumps({"u": user, "c": secrets.token_urlsafe(24)}))

    def session(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._session.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), str):
            return None
        return Session(user=data["u"], csrf=str(data.get("c", "")))

    def login_cookie(self) -> tuple[str, str]:
        """(cookie value, token for the form)."""
        token = secrets.token_urlsafe(24)
        return str(self._login.dumps(token)), token

    def login_token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            token = self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None


def load_secret(path: Path | None) -> bytes:
    """The cookie-signing key from `path` (created, mode 0600, when missing); without a path a
    random key, so sessions end when the process does."""
    if path is None:
        return secrets.token_bytes(32)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsersError(f"{path}: cannot read or create the session key ({exc})") from exc
    if len(key) < 32:
        raise UsersError(f"{path}: the session key is too short (need 32+ characters)")
    return key.encode("ascii")


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and secrets.compare_digest(str(a), str(b))
