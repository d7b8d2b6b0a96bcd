"""Every real labelled advert (tests/data/real-adverts.jsonl) through `classify_raw`.

A device's single category is the highest-precedence *counted* category among its sightings, in
the order of signatures.yaml's `categories` (bluezone > iphone > phone > other); a result with no
counted sighting (only R8) has no category. Rows labelled `src` must agree; agreement on
`inf`/`inf-low` rows is printed (the labels are never edited to fit).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scanner.ble.classify import Classifier, category_of

ROWS = [
    json.loads(line)
    for line in (Path(__file__).parent.parent / "data" / "real-adverts.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
]
C = Classifier()


def _category(row: dict[str, Any]) -> str | None:
    rsp = row["scan_rsp_hex"]
    s = C.classify_raw(bytes.fromhex(row["adv_hex"]), None if rsp is None else bytes.fromhex(rsp),
                       "C0:FF:EE:00:00:01")  # fmt: skip
    return category_of(s, C.table.categories)


def test_file_shape() -> None:
    assert len(ROWS) == 125
    assert sum(r["reason"].startswith("src") for r in ROWS) == 59


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r["reason"].startswith("src")], ids=lambda r: r["id"]
)
def test_source_labelled_rows_match(row: dict[str, Any]) -> None:
    assert _category(row) == row["category"], row["label"]


def test_inferred_rows_agreement(pytestconfig: pytest.Config) -> None:
    per: Counter[str] = Counter()
    agree: Counter[str] = Counter()
    misses = []
    for r in ROWS:
        tag = r["reason"].split(":", 1)[0]
        if tag.startswith("src"):
            continue
        per[tag] += 1
        got = _category(r)
        if got == r["category"]:
            agree[tag] += 1
        else:
            misses.append(f"    {r['id']}: labelled {r['category']}, classified {got}")
    lines = [f"real-adverts agreement: {t} {agree[t]}/{per[t]}" for t in sorted(per)]
    total = sum(per.values())
    lines.append(f"real-adverts agreement: inf+inf-low {sum(agree.values())}/{total}")
    capman = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled() if capman else _null():
        print("\n" + "\n".join(lines + misses))
    assert total == 66
    # A floor, not the figure: the printout is the result. It catches a signature file gone wrong.
    assert sum(agree.values()) >= 0.8 * total


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None
