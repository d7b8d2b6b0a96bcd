"""Node enrolment: broker accounts (Mosquitto password file) and HMAC keys, added and revoked.

Passwords are hashed by `mosquitto_passwd` (fed on stdin, so no secret is on a command line) and
shown once; the signing key is kept in the aggregator's keys file because it verifies windows.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from aggregator.errors import AggregatorError
from scanner.wire.schema import SchemaError, check_id

AGGREGATOR_USER: Final = "bzagg"
DEFAULT_PASSWD: Final = Path("/etc/mosquitto/bzaudit.passwd")
DEFAULT_KEYS: Final = Path("/etc/bluezone-audit/node-keys.yaml")


class EnrolmentError(AggregatorError):
    """A node that cannot be added or revoked; `reason` is what callers branch on."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What a new node needs, shown once: its broker password and its signing key."""

    node: str
    password: str
    key: str


def _tool() -> str:
    exe = shutil.which("mosquitto_passwd") or (
        "/usr/bin/mosquitto_passwd" if Path("/usr/bin/mosquitto_passwd").exists() else None
    )
    if exe is None:
        raise EnrolmentError("no_tool", "mosquitto_passwd not found (apt-get install mosquitto)")
    return exe


def passwd_users(passwd: Path) -> set[str]:
    try:
        lines = passwd.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return set()
    return {line.split(":", 1)[0] for line in lines if ":" in line}


def read_keys(keys: Path) -> dict[str, str]:
    try:
        data = yaml.safe_load(keys.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise EnrolmentError("bad_keys", f"{keys}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise EnrolmentError("bad_keys", f"{keys}: expected a mapping `node-id: key`")
    return {str(k): str(v) for k, v in data.items()}


def _write_keys(keys: Path, data: dict[str, str]) -> None:
    # Atomic replace that keeps the file's mode and owner (0640 root:bzagg after install).
    keys.parent.mkdir(parents=True, exist_ok=True)
    st = keys.stat() if keys.exists() else None
    fd, tmp = tempfile.mkstemp(dir=keys.parent, prefix=".node-keys.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("# node id: HMAC key (bzagg nodes add/revoke keep this file)\n")
            if data:
                yaml.safe_dump(dict(sorted(data.items())), f, default_flow_style=False)
        os.chmod(tmp, st.st_mode & 0o777 if st else 0o640)
        if st is not None:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, keys)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_node(
    node: str,
    *,
    passwd: Path = DEFAULT_PASSWD,
    keys: Path = DEFAULT_KEYS,
    token: Callable[[int], str] = secrets.token_urlsafe,
) -> Enrolment:
    """Create the node's broker account and signing key; refuse a node that already has one."""
    try:
        check_id(node, "node")
    except SchemaError as exc:
        raise EnrolmentError("bad_name", f"node name {node!r}: {exc.detail}") from exc
    if node == AGGREGATOR_USER:
        raise EnrolmentError("bad_name", f"{node!r} is the aggregator's own broker account")
    current = read_keys(keys)
    if node in passwd_users(passwd) or node in current:
        raise EnrolmentError(
            "exists", f"node {node!r} is already enrolled (bzagg nodes revoke {node} first)"
        )
    enrolment = Enrolment(node=node, password=token(24), key=token(32))
    args = [_tool(), *([] if passwd.exists() else ["-c"]), str(passwd), node]
    done = subprocess.run(
        args, input=f"{enrolment.password}\n{enrolment.password}\n", text=True,
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise EnrolmentError("tool_failed", f"mosquitto_passwd failed: {done.stderr.strip()}")
    _write_keys(keys, {**current, node: enrolment.key})
    return enrolment


def revoke_node(node: str, *, passwd: Path = DEFAULT_PASSWD, keys: Path = DEFAULT_KEYS) -> bool:
    """Remove the node's broker account and key; False when it had neither."""
    found = False
    if node in passwd_users(passwd):
        done = subprocess.run(
            [_tool(), "-D", str(passwd), node], capture_output=True, text=True, timeout=30,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            msg = f"mosquitto_passwd -D failed: {done.stderr.strip()}"
            raise EnrolmentError("tool_failed", msg)
        found = True
    current = read_keys(keys)
    if node in current:
        del current[node]
        _write_keys(keys, current)
        found = True
    return found
