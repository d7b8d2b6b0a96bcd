"""A wheel built from the checkout: the Pi install (real pip, scanner extra only) and pipx.

Both installs reuse pip's cache and the machine's wheel index, so they cost seconds, not minutes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.delivery.helpers import write_jsonl_capture
from tests.deploy.helpers import PI_INSTALL, REPO, run_install

pytestmark = pytest.mark.slow
_SKIP = {".venv", ".git", "build", "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache",
         ".hypothesis", "__pycache__", "bluezone_audit.egg-info", ".tmp"}  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`pip wheel` of a copy of the checkout (building in place would leave build/ behind)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=lambda d, names: [n for n in names if n in _SKIP])
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "-w", str(dist), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (whl,) = dist.glob("bluezone_audit-*.whl")
    yield whl


def _replay_works(bzscan: Path, tmp: Path) -> None:
    cap = write_jsonl_capture(tmp / "visit.jsonl", 10)
    done = subprocess.run(
        [str(bzscan), "--replay", str(cap), "--window", "5", "--dry-run", "--no-progress"],
        capture_output=True, text=True, timeout=60, cwd=tmp, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 windows" in done.stdout + done.stderr


def test_pi_install_from_the_wheel_has_no_pandas_and_replays(wheel: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    run_install(PI_INSTALL, root, "--source", str(wheel), "--node", "pi-07", "--site", "m-1")
    venv = root / "opt/bluezone-audit"
    py = venv / "bin/python"
    for absent in ("pandas", "numpy", "matplotlib", "openpyxl", "amqtt"):
        probe = subprocess.run([str(py), "-c", f"import {absent}"], capture_output=True,
                               check=False)  # fmt: skip
        assert probe.returncode != 0, f"{absent} installed on a scanner node"
    present = subprocess.run([str(py), "-c", "import bleak, aiomqtt, scanner.cli.main"],
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert present.returncode == 0, present.stderr
    _replay_works(venv / "bin/bzscan", tmp_path)
    # A second run with the same wheel installs nothing.
    assert "nothing to change" in run_install(PI_INSTALL, root, "--source", str(wheel)).stderr


def test_pipx_install_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    pipx = shutil.which("pipx")
    if pipx is None:
        if IN_CI:
            pytest.fail("pipx is required in CI (scripts/install-system-deps.sh)")
        pytest.skip("pipx not installed")
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"),
           "PIPX_BIN_DIR": str(tmp_path / "bin")}  # fmt: skip
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([pipx, "install", f"{wheel}[scanner]"], capture_output=True, text=True,
                          env=env, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    _replay_works(tmp_path / "bin/bzscan", tmp_path)
