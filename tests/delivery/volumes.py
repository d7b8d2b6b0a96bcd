"""Small real filesystems for disk-fault tests: a tmpfs of a few hundred KiB, remountable
read-only. Needs root (mount(8)); the fixture skips when the machine does not allow it, and the
SQLite-level simulations in the tests that use `max_page_count` run everywhere."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class Volume:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _mount(self, *args: str) -> None:
        subprocess.run(["mount", *args, str(self.path)], check=True, capture_output=True)

    def readonly(self) -> None:
        self._mount("-o", "remount,ro")

    def writable(self) -> None:
        self._mount("-o", "remount,rw")

    def fill(self) -> None:
        """Take every free byte (a file of zeros until ENOSPC)."""
        with (self.path / "filler").open("wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass

    def free(self) -> None:
        (self.path / "filler").unlink(missing_ok=True)


def mount_volume(path: Path, size_kib: int) -> Volume:
    path.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None:
        pytest.skip("mount(8) not available: no small filesystem for this test")
    r = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)],
        capture_output=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()}): needs root")
    return Volume(path)


def unmount(vol: Volume) -> None:
    subprocess.run(["umount", "-l", str(vol.path)], capture_output=True)


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Volume]:
    vol = mount_volume(tmp_path / "vol", 1024)
    try:
        yield vol
    finally:
        unmount(vol)
