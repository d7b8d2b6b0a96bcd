"""The dependency rule of DESIGN §2, checked on the real import graph and on the source."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "scanner.ble.advert",
    "scanner.wire.schema",
    "scanner.ble.signatures",
    "scanner.ble.adparse",
    "scanner.ble.classify",
    "scanner.counting.window",
    "scanner.counting.pipeline",
    "scanner.estimation.estimate",
    "scanner.estimation.clusters",
    "scanner.estimation.histories",
    "scanner.estimation.devices",
    "scanner.estimation.methods",
    "scanner.estimation.site_estimate",
    "scanner.estimation.visit",
    "scanner.ble.bluezone_id",
    "scanner.ble.overflow",
    "scanner.ble.sigtypes",
    "scanner.ble.matchview",
    "scanner.ble.passive",
    "scanner.estimation.intervals",
    "scanner.estimation.params",
    "scanner.node.output",
]
IO_LIBS = (
    "bleak",
    "aiomqtt",
    "paho",
    "sqlite3",
    "_sqlite3",
    "pandas",
    "numpy",
    "amqtt",
    "dbus_fast",
)

# Each I/O library is imported in exactly one module per side.
ALLOWED = {
    "bleak": {"scanner/sources/live/bleak_scan.py"},
    "aiomqtt": {"scanner/node/publish.py", "aggregator/ingest/subscribe.py"},
    "sqlite3": {"scanner/node/outbox.py", "aggregator/store/sqlite.py"},
}


def test_pure_modules_pull_in_no_io_library() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for m in {PURE!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in {IO_LIBS!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("lib", sorted(ALLOWED))
def test_io_library_imported_in_one_module_per_side(lib: str) -> None:
    users = {
        str(p.relative_to(ROOT))
        for pkg in ("scanner", "aggregator")
        for p in _sources(pkg)
        if lib in _imports(p)
    }
    assert users <= ALLOWED[lib], (
        f"{lib} imported outside its module: {sorted(users - ALLOWED[lib])}"
    )


def test_scanner_never_imports_aggregator_or_pandas() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & {"aggregator", "pandas", "matplotlib"})
        for p in _sources("scanner")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
