"""Run the deploy scripts into a temporary root, and a Mosquitto from the installed config."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parents[2]
PI_INSTALL = REPO / "deploy" / "pi" / "install.sh"
SERVER_INSTALL = REPO / "deploy" / "server" / "install.sh"


def run_install(
    script: Path, destdir: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESTDIR": str(destdir)}
    done = subprocess.run(
        ["bash", str(script), *args], input=stdin, capture_output=True, text=True, env=env,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{script.name} {args}: {done.stderr}"
    return done


class InstalledBroker(Mosquitto):
    """Mosquitto run from the conf.d file the server install wrote, with only what differs in a
    test changed: paths under the temporary root, a free loopback port, a log file."""

    def __init__(self, workdir: Path, destdir: Path) -> None:
        self.destdir = destdir
        super().__init__(workdir)

    def _config(self) -> str:
        text = (self.destdir / "etc/mosquitto/conf.d/bzaudit.conf").read_text()
        text = text.replace(" /etc/mosquitto/", f" {self.destdir}/etc/mosquitto/")
        text = re.sub(r"^listener 8883$", f"listener {self.port} 127.0.0.1", text, flags=re.M)
        text = re.sub(r"^log_dest syslog$", f"log_dest file {self.log}", text, flags=re.M)
        # Debian's main mosquitto.conf sets this; the conf.d file must not repeat it.
        head = f"persistence_location {self.dir}/\n"
        if os.geteuid() == 0:
            head += "user root\n"  # else mosquitto drops to `mosquitto` and cannot read keys
        return head + text
