"""The repository stands alone: every `docs/<file>.md §n` citation resolves, nothing cites a
team-internal folder or an issue tracker number (checked on the tracked files, as a clone has them).
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Written by other areas; a citation into one of them is checked once the file exists.
OPTIONAL_DOCS = frozenset({"method", "deployment", "captures"})

_SECTION = r"§\s?\d+(?:\.\d+)*|R\d+"
_CITATION = re.compile(
    rf"docs/(?P<file>[A-Za-z0-9_-]+)\.md[\s#]*(?P<first>{_SECTION})"
    # Further sections of the same citation: "§2.2 (A2), §2.9, §6 R1", "§2.1-2.3", "§4.4/§4.6".
    rf"(?P<rest>(?:\s*(?:\([^()\n]*\))?\s*(?:[,;]\s*(?:{_SECTION})|[/-]\s*(?:§\s?)?\d+(?:\.\d+)*"
    rf"|[/-]\s*R\d+|\s+R\d+))*)"
)
_TOKEN = re.compile(r"§\s?(\d+(?:\.\d+)*)|(R\d+)|(?<=[/-])\s*(\d+(?:\.\d+)*)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# `shared/` at the start of a path (or `../shared/`), but not inside one: BlueZ's
# `src/shared/ad.c` is a public source file and may be cited.
_SHARED = re.compile(r"(?<![\w/])(\.\./)?shared/")
_ISSUE = re.compile(r"[Ii]ssues? #?[0-9]+")


@cache
def _tracked() -> tuple[Path, ...]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked-file checks need `git ls-files`")
    return tuple(ROOT / p for p in out.decode().split("\0") if p)


def _texts() -> list[tuple[str, str]]:
    """(relative path, text) of every tracked text file outside tests/."""
    out = []
    for path in _tracked():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("tests/") or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        try:
            out.append((rel, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue  # not text either
    return out


def _headings(name: str) -> list[tuple[int, str, int]]:
    """(level, text, line index) of every Markdown heading outside fenced code."""
    lines = (DOCS / f"{name}.md").read_text(encoding="utf-8").splitlines()
    found, fenced = [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        m = None if fenced else _HEADING.match(line)
        if m:
            found.append((len(m.group(1)), m.group(2), i))
    return found


def _numbered(text: str, number: str) -> bool:
    # "2.9 Rotation…" carries 2.9; "2.1 A1…" does not carry 2.
    return re.match(rf"§?\s?{re.escape(number)}(?:\.?\s|\.?$)", text) is not None


def _section_text(name: str, number: str) -> str | None:
    lines = (DOCS / f"{name}.md").read_text(encoding="utf-8").splitlines()
    heads = _headings(name)
    for k, (level, text, i) in enumerate(heads):
        if _numbered(text, number):
            end = next((j for lv, _, j in heads[k + 1 :] if lv <= level), len(lines))
            return "\n".join(lines[i:end])
    return None


def _citations() -> list[tuple[str, int, str, str]]:
    """(file, line, docs name, section or rule) for every citation outside tests/."""
    found = []
    for rel, text in _texts():
        for m in _CITATION.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            chunk = m.group("first") + m.group("rest")
            for t in _TOKEN.finditer(chunk):
                ref = t.group(1) or t.group(2) or t.group(3)
                found.append((rel, line, m.group("file"), ref))
    return found


def test_citations_are_found() -> None:
    # The scan itself must see the repository's citations, or the next test proves nothing.
    refs = {(name, ref) for _, _, name, ref in _citations()}
    assert ("protocol", "2.9") in refs
    assert ("protocol", "R4") in refs
    assert ("architecture", "5") in refs


def test_every_docs_citation_names_an_existing_section() -> None:
    bad = []
    for rel, line, name, ref in _citations():
        where = f"{rel}:{line}: docs/{name}.md {ref}"
        if not (DOCS / f"{name}.md").is_file():
            if name not in OPTIONAL_DOCS:
                bad.append(f"{where}: no such file")
            continue
        if ref.startswith("R"):
            rules = _section_text("protocol", "6") if name == "protocol" else None
            if rules is None or not re.search(rf"\b{ref}\b", rules):
                bad.append(f"{where}: rule not in docs/protocol.md §6")
        elif _section_text(name, ref) is None:
            bad.append(f"{where}: no heading numbered {ref}")
    assert bad == []


@pytest.mark.parametrize("name", ["protocol", "architecture"])
def test_core_docs_exist(name: str) -> None:
    assert (DOCS / f"{name}.md").is_file()


def test_no_internal_folder_or_issue_numbers_outside_tests() -> None:
    bad = []
    for rel, text in _texts():
        for pattern, what in ((_SHARED, "shared/ folder"), (_ISSUE, "issue number")):
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                bad.append(f"{rel}:{line}: {what}: {m.group(0)!r}")
    assert bad == []


def test_the_checks_match_what_they_should() -> None:
    assert _SHARED.search("see ../shared/DESIGN.md") and _SHARED.search("`shared/protocol.md`")
    assert not _SHARED.search("BlueZ src/shared/ad.c")
    assert _ISSUE.search("the fix of issue 4") and _ISSUE.search("Issues #12")
    assert not _ISSUE.search("a known issue with 0x22B5")
    chunk = "docs/protocol.md §2.2 (A2), §2.9, §6 R1; RNBS, docs/protocol.md §2.1-2.3, §4.4/§4.6"
    refs = [
        t.group(1) or t.group(2) or t.group(3)
        for m in _CITATION.finditer(chunk)
        for t in _TOKEN.finditer(m.group("first") + m.group("rest"))
    ]
    assert refs == ["2.2", "2.9", "6", "R1", "2.1", "2.3", "4.4", "4.6"]
    assert _numbered("2.9 Rotation of the Bluezone ID", "2.9")
    assert not _numbered("2.1 A1: Android v1", "2")
