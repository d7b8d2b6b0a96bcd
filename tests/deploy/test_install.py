"""Both install scripts into a temporary root: files, owners, modes, config; idempotent; uninstall.

The virtualenv step is skipped here (--skip-pip) to keep the test fast; tests/deploy/test_wheel.py
runs the Pi script with the real pip step from a wheel. systemd-analyze works offline on unit
files: `verify --root` against the temporary root (given a copy of the OS's units), and
`security --offline=yes`. Both exit 0 on mere warnings, so stderr must be empty too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.deploy.helpers import PI_INSTALL, REPO, SERVER_INSTALL, run_install
from tests.mosquitto import make_tls

pytestmark = pytest.mark.slow
OS_FILES = {"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow",
            "etc/passwd-", "etc/group-", "etc/shadow-", "etc/gshadow-"}  # fmt: skip
SECRETS = "BZAUDIT_PASSWORD=pw-0123456789abcdef\nBZAUDIT_HMAC_KEY=key-0123456789abcdef0123\n"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} is required in CI (scripts/install-system-deps.sh)")
        pytest.skip(f"{tool} not installed")
    return path


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int, str]]:
    """Every path under root: mode, uid, gid, mtime and content (or link target)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.startswith(("usr/lib", "usr/libexec")):
            continue  # the OS's own units and bluetoothd, put there by the test
        st = p.lstat()
        body = os.readlink(p) if p.is_symlink() else (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")  # fmt: skip
        out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, body)
    return out


def ids(root: Path, name: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        f = line.split(":")
        if f[0] == name:
            return int(f[2]), int(f[3])
    raise AssertionError(f"no user {name} in {root}/etc/passwd")


def owner_mode(root: Path, rel: str) -> tuple[int, int, str]:
    st = (root / rel).stat()
    return st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)


def os_root(tmp: Path) -> Path:
    """A root with what Debian brings: systemd's units (for verify) and bluetoothd."""
    root = tmp / "root"
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    daemon = root / "usr/libexec/bluetooth/bluetoothd"
    daemon.parent.mkdir(parents=True)
    real = Path("/usr/libexec/bluetooth/bluetoothd")
    if real.exists():
        shutil.copy2(real, daemon)
    else:
        daemon.write_text("#!/bin/sh\n")
        daemon.chmod(0o755)
    return root


def stub_venv(root: Path, *scripts: str) -> None:
    # --skip-pip left the virtualenv out; verify needs ExecStart's binary to exist.
    bin_dir = root / "opt/bluezone-audit/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for s in scripts:
        (bin_dir / s).write_text("#!/bin/sh\n")
        (bin_dir / s).chmod(0o755)


def verify_and_score(root: Path, unit: str, *also: str) -> str:
    tool = need("systemd-analyze")
    v = subprocess.run([tool, "verify", f"--root={root}", unit, *also], capture_output=True,
                       text=True, timeout=60, check=False)  # fmt: skip
    assert v.returncode == 0 and v.stderr == "", v.stderr
    s = subprocess.run([tool, "security", "--offline=yes", f"--root={root}", unit],
                       capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert s.returncode == 0, s.stderr
    score = s.stdout.strip().splitlines()[-1]
    print(score)
    assert "OK" in score or "SAFE" in score, s.stdout
    return score


def left_after_uninstall(root: Path, keep: tuple[str, ...]) -> list[str]:
    return [
        rel for rel, (mode, *_rest) in snapshot(root).items()
        if not (rel in OS_FILES or rel.startswith(keep) or (mode & 0o170000) == 0o040000)
    ]  # fmt: skip


def test_pi_install_into_a_temporary_root(tmp_path: Path) -> None:
    root = os_root(tmp_path)
    ca = make_tls(tmp_path / "tls").ca
    args = ("--skip-pip", "--node", "pi-07", "--site", "ptc-market-01", "--broker",
            "mqtts://broker.example.org:8883", "--ca-file", str(ca), "--mode", "passive",
            "--secrets-stdin")  # fmt: skip
    first = run_install(PI_INSTALL, root, *args, stdin=SECRETS)
    assert "bzscan installed" in first.stderr
    uid, gid = ids(root, "bzscan")
    assert "bluetooth" in [
        g.split(":")[0] for g in (root / "etc/group").read_text().splitlines()
        if "bzscan" in g.split(":")[3].split(",")
    ]  # fmt: skip
    conf = "etc/bluezone-audit"
    assert owner_mode(root, f"{conf}/scanner.yaml") == (0, gid, "0o640")
    assert owner_mode(root, f"{conf}/credentials") == (0, 0, "0o600")
    assert owner_mode(root, f"{conf}/node.key") == (0, gid, "0o640")
    assert owner_mode(root, f"{conf}/ca.crt") == (0, 0, "0o644")
    assert owner_mode(root, "var/lib/bluezone-audit") == (uid, gid, "0o750")
    assert (root / f"{conf}/credentials").read_text() == "BZAUDIT_PASSWORD=pw-0123456789abcdef\n"
    assert (root / f"{conf}/node.key").read_text() == "key-0123456789abcdef0123\n"
    yaml_text = (root / f"{conf}/scanner.yaml").read_text()
    for line in ("node: pi-07", "site: ptc-market-01", "mode: passive", "username: pi-07",
                 "broker: mqtts://broker.example.org:8883", "ca-file: /etc/bluezone-audit/ca.crt",
                 "hmac-key-file: /etc/bluezone-audit/node.key",
                 "outbox: /var/lib/bluezone-audit/outbox.sqlite3"):  # fmt: skip
        assert line in yaml_text.splitlines()
    assert "pw-0123" not in yaml_text
    unit = root / "etc/systemd/system/bzscan.service"
    assert unit.read_text() == (REPO / "deploy/pi/bzscan.service").read_text()
    dropin = root / "etc/systemd/system/bluetooth.service.d/bluezone-audit-experimental.conf"
    assert "bluetoothd -E" in dropin.read_text()
    want = root / "etc/systemd/system/multi-user.target.wants/bzscan.service"
    assert os.readlink(want) == "/etc/systemd/system/bzscan.service"
    assert os.readlink(root / "usr/local/bin/bzscan") == "/opt/bluezone-audit/bin/bzscan"
    _bzscan_accepts(root / f"{conf}/scanner.yaml", tmp_path)

    before = snapshot(root)
    again = run_install(PI_INSTALL, root, *args, stdin=SECRETS)
    assert "nothing to change" in again.stderr
    assert snapshot(root) == before

    # The operator edits the config; an upgrade keeps it and puts the shipped one beside it.
    edited = yaml_text.replace("rssi-min: -85", "rssi-min: -72")
    (root / f"{conf}/scanner.yaml").write_text(edited)
    run_install(PI_INSTALL, root, *args, stdin=SECRETS)
    assert (root / f"{conf}/scanner.yaml").read_text() == edited
    assert (root / f"{conf}/scanner.yaml.new").read_text() == yaml_text

    stub_venv(root, "bzscan")
    verify_and_score(root, "bzscan.service", "bluetooth.service")

    run_install(PI_INSTALL, root, "--uninstall")
    assert not (root / "opt/bluezone-audit").exists() and not unit.exists() and not want.exists()
    assert not dropin.exists() and not (root / "usr/local/bin/bzscan").is_symlink()
    assert left_after_uninstall(root, (conf, "var/lib/bluezone-audit")) == []
    assert (root / f"{conf}/scanner.yaml").read_text() == edited  # config stays


def _bzscan_accepts(config: Path, tmp: Path) -> None:
    """The generated scanner.yaml is valid for bzscan (paths moved into the temporary root)."""
    from tests.delivery.helpers import BZSCAN, write_jsonl_capture

    text = config.read_text().replace("/etc/bluezone-audit/", f"{config.parent}/")
    text = text.replace("/var/lib/bluezone-audit/", f"{tmp}/")
    local = tmp / "scanner-local.yaml"
    local.write_text(text.replace("broker: ", "# broker: "))
    cap = write_jsonl_capture(tmp / "cap.jsonl", 4)
    done = subprocess.run([BZSCAN, "--config", str(local), "--replay", str(cap), "--no-progress"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_server_install_into_a_temporary_root(tmp_path: Path) -> None:
    root = os_root(tmp_path)
    tls = make_tls(tmp_path / "tls")
    first = run_install(SERVER_INSTALL, root, "--skip-pip", "--tls-dir", str(tls.ca.parent))
    assert "bzagg installed" in first.stderr
    uid, gid = ids(root, "bzagg")
    mq_gid = next(int(g.split(":")[2]) for g in (root / "etc/group").read_text().splitlines()
                  if g.startswith("mosquitto:"))  # fmt: skip
    conf = "etc/bluezone-audit"
    assert owner_mode(root, f"{conf}/aggregator.yaml") == (0, gid, "0o640")
    assert owner_mode(root, f"{conf}/aggregator.credentials") == (0, 0, "0o600")
    assert owner_mode(root, "var/lib/bluezone-audit") == (uid, gid, "0o750")
    assert owner_mode(root, "etc/mosquitto/bzaudit.passwd") == (0, mq_gid, "0o640")
    assert owner_mode(root, "etc/mosquitto/bzaudit.acl") == (0, mq_gid, "0o640")
    assert owner_mode(root, "etc/mosquitto/certs/server.key") == (0, mq_gid, "0o640")
    assert owner_mode(root, "etc/mosquitto/conf.d/bzaudit.conf") == (0, 0, "0o644")
    password = (root / f"{conf}/aggregator.credentials").read_text()
    assert password.startswith("BZAUDIT_SERVE_PASSWORD=") and len(password) > 30
    passwd = (root / "etc/mosquitto/bzaudit.passwd").read_text()
    assert passwd.startswith("bzagg:$7$") and password.split("=", 1)[1].strip() not in passwd
    mconf = (root / "etc/mosquitto/conf.d/bzaudit.conf").read_text().splitlines()
    for line in ("allow_anonymous false", "listener 8883", "persistence true",
                 "password_file /etc/mosquitto/bzaudit.passwd"):  # fmt: skip
        assert line in mconf
    assert not any(line.startswith(("listener 1883", "persistence_location")) for line in mconf)

    before = snapshot(root)
    assert "nothing to change" in run_install(SERVER_INSTALL, root, "--skip-pip",
                                              "--tls-dir", str(tls.ca.parent)).stderr  # fmt: skip
    assert snapshot(root) == before

    stub_venv(root, "bzagg")
    verify_and_score(root, "bzagg.service")

    run_install(SERVER_INSTALL, root, "--uninstall")
    assert not (root / "opt/bluezone-audit").exists()
    assert not (root / "usr/local/bin/bzagg").is_symlink()
    assert left_after_uninstall(root, (conf, "var/lib/bluezone-audit", "etc/mosquitto")) == []


def test_every_script_passes_shellcheck() -> None:
    tool = need("shellcheck")
    scripts = sorted(str(p) for p in [*REPO.glob("deploy/**/*.sh"), *REPO.glob("scripts/*.sh")])
    assert len(scripts) >= 4
    done = subprocess.run([tool, "-x", *scripts], capture_output=True, text=True, cwd=REPO,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout
