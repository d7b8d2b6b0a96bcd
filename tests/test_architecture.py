"""The dependency rule of docs/architecture.md §2, checked on the import graph and the source."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scanner", "aggregator")
# Pure packages: bytes and values in, values out. Importing them must load no I/O library.
PURE_PACKAGES = ("scanner.wire", "scanner.ble", "scanner.counting", "scanner.estimation")
# What the aggregator may use of the scanner: the wire contract, the estimators, the error root and
# the click plumbing both CLIs share.
SHARED = ("scanner.wire", "scanner.estimation", "scanner.errors", "scanner.clikit")
# The demo plays the nodes' part (simulate, replay, publish), so it may use node-side packages.
DEMO_MAY_USE = ("scanner.simulator", "scanner.node", "scanner.sources", "scanner.counting")
MAX_LINES = 300
# Known debts, each to be removed when its module is split or its import rerouted; the tests fail
# if an entry is no longer needed, so the list can only shrink.
OVERSIZED: set[str] = set()
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
    "psycopg",
)

# Each I/O library is imported in exactly one module per side.
ALLOWED = {
    "bleak": {"scanner/sources/live/bleak_scan.py"},
    "dbus_fast": {"scanner/sources/live/bluez.py"},
    "aiomqtt": {"scanner/node/publish.py", "aggregator/ingest/subscribe.py"},
    "sqlite3": {
        "scanner/node/outbox.py",
        "aggregator/store/sqlite.py",
        "aggregator/store/sqlite_read.py",  # read-only connections only
    },
    "psycopg": {"aggregator/store/postgres.py"},
}


@cache
def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            rel = p.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            mods[".".join(parts)] = p
    return mods


@cache
def _graph() -> dict[str, frozenset[str]]:
    """Module -> project modules it imports (anywhere in the file, lazy imports included)."""
    mods = _modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in mods.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names} & mods.keys()
                found.update(subs)
                if len(subs) < len(node.names):  # names defined in the module itself
                    found.add(node.module)
        graph[name] = frozenset(m for m in found if m in mods and m != name)
    return graph


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _pure_modules() -> list[str]:
    return [m for m in _modules() if _under(m, PURE_PACKAGES)]


def test_pure_modules_pull_in_no_io_library() -> None:
    mods = _pure_modules()
    assert len(mods) > 20
    code = (
        "import importlib, json, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
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
        str(p.relative_to(ROOT)) for pkg in PACKAGES for p in _sources(pkg) if lib in _imports(p)
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


def test_aggregator_uses_only_the_shared_scanner_packages() -> None:
    offenders = {}
    for mod, deps in _graph().items():
        if not mod.startswith("aggregator"):
            continue
        allowed = SHARED + (DEMO_MAY_USE if _under(mod, ("aggregator.demo",)) else ())
        bad = sorted(d for d in deps if d.startswith("scanner") and not _under(d, allowed))
        if bad:
            offenders[mod] = bad
    assert offenders == {}


def test_pure_packages_import_only_pure_packages() -> None:
    offenders = {
        # `scanner` itself holds only __version__.
        mod: sorted(
            d for d in deps if d != "scanner" and not _under(d, (*PURE_PACKAGES, "scanner.errors"))
        )
        for mod, deps in _graph().items()
        if _under(mod, PURE_PACKAGES)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    g = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert _cycles(g) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_no_module_over_300_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules().values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) == OVERSIZED, long
