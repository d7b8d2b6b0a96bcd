"""signatures.yaml: the packaged file is valid; broken files name the file, signature and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scanner.ble.signatures import DEFAULT_PATH, SignatureError, load_signatures
from scanner.cli.main import main

ROOT = Path(__file__).resolve().parent.parent.parent
GOOD_SIG = {
    "name": "bz_android_v2", "rule": "R1", "category": "bluezone", "stratum": "android",
    "match": {"manufacturer": {"company": 0x22B5, "length": 12}},
    "key": {"from": "manufacturer", "company": 0x22B5, "offset": 0, "length": 12},
    "rolling": {"period_s": 900, "utc_slot": True}, "source": "protocol.md §6 R1",
}  # fmt: skip


def _doc(**sig_changes: object) -> dict[str, object]:
    sig = {**GOOD_SIG, **sig_changes}
    sig = {k: v for k, v in sig.items() if v is not None}
    return {"version": 1, "categories": ["bluezone", {"name": "other", "fallback": True}],
            "signatures": [sig]}  # fmt: skip


def test_packaged_file_loads_and_config_copy_equals_it() -> None:
    table = load_signatures()
    assert table.categories == ("bluezone", "iphone", "phone", "other")
    assert (ROOT / "config" / "signatures.yaml").read_bytes() == DEFAULT_PATH.read_bytes()
    assert load_signatures(ROOT / "config" / "signatures.yaml").signatures == table.signatures


def test_every_generation_and_rule_is_covered() -> None:
    table = load_signatures()
    rules = {s.rule.split("-")[0] for s in table.signatures}
    assert {f"R{i}" for i in range(1, 13)} <= rules
    strata = set(table.strata())
    assert {("bluezone", s) for s in ("android", "android_v1", "ios_fg", "ios_bg")} <= strata
    assert ("iphone", "all") in strata and ("phone", "en") in strata
    assert ("bluezone", "android_beacon") not in strata  # R8 is never counted
    assert all(s.source.strip() for s in table.signatures)


def test_precedence_order_in_file() -> None:
    rules = [s.rule for s in load_signatures().signatures]
    first = {r: rules.index(r) for r in ("R1", "R2", "R3", "R4", "R5", "R8", "R6", "R7", "R9")}
    assert max(first[r] for r in ("R1", "R2", "R3", "R4", "R5")) < first["R8"]
    assert first["R8"] < first["R6"] < first["R7"] < first["R9"]


def test_rolling_id_only_for_bluezone_android_v2() -> None:
    table = load_signatures()
    slot_aligned = [s.name for s in table.signatures if s.utc_slot]
    assert slot_aligned == ["bz_android_v2"]
    en = next(s for s in table.signatures if s.rule == "R10")
    assert en.rolling_period_s == 600 and en.key.source == "service_data" and not en.utc_slot


def test_minimal_good_document(tmp_path: Path) -> None:
    p = tmp_path / "sig.yaml"
    p.write_text(yaml.safe_dump(_doc()))
    assert [s.name for s in load_signatures(p).signatures] == ["bz_android_v2"]


BROKEN = [
    ({"source": None}, "bz_android_v2", "source"),
    ({"category": "tablets"}, "bz_android_v2", "category"),
    (
        {"match": {"manufacturer": {"company": 0x1FFFF}}},
        "bz_android_v2",
        "match.manufacturer.company",
    ),
    (
        {"match": {"manufacturer": {"company": 1, "prefix": "zz"}}},
        "bz_android_v2",
        "match.manufacturer.prefix",
    ),
    (
        {"match": {"manufacturer": {"company": 1, "lenght": 12}}},
        "bz_android_v2",
        "match.manufacturer.lenght",
    ),
    ({"match": {"colour": "red"}}, "bz_android_v2", "match.colour"),
    ({"match": {"service_uuid": "not-a-uuid"}}, "bz_android_v2", "match.service_uuid"),
    ({"match": {"overflow": {"uuid": 12.5}}}, "bz_android_v2", "match.overflow.uuid"),
    ({"match": {"local_name": "([unclosed"}}, "bz_android_v2", "match.local_name"),
    ({"key": "address"}, "bz_android_v2", "rolling"),
    ({"key": {"from": "mac"}}, "bz_android_v2", "key.from"),
    ({"rolling": {"period_s": 0}}, "bz_android_v2", "rolling.period_s"),
    ({"name": "Bad Name"}, "Bad Name", "name"),
    ({"counted": "yes"}, "bz_android_v2", "counted"),
]


@pytest.mark.parametrize(("change", "sig", "key"), BROKEN)
def test_broken_file_names_file_signature_and_key(
    tmp_path: Path, change: dict[str, object], sig: str, key: str
) -> None:
    p = tmp_path / "broken.yaml"
    p.write_text(yaml.safe_dump(_doc(**change)))
    with pytest.raises(SignatureError) as exc:
        load_signatures(p)
    msg = str(exc.value)
    assert str(p) in msg and repr(sig) in msg and repr(key) in msg, msg


def test_duplicate_names_and_bad_top_level(tmp_path: Path) -> None:
    p = tmp_path / "dup.yaml"
    doc = _doc()
    doc["signatures"] = [GOOD_SIG, GOOD_SIG]
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(SignatureError, match=r"'bz_android_v2'.*'name'.*duplicate"):
        load_signatures(p)
    for text, key in [("- just a list", "(top level)"),
                      ("version: 2\ncategories: [a]\nsignatures: []", "version"),
                      ("version: 1\ncategories: []\nsignatures: []", "categories"),
                      ("{unclosed", "YAML")]:  # fmt: skip
        p.write_text(text)
        with pytest.raises(SignatureError, match=str(p)) as exc:
            load_signatures(p)
        assert key in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="cannot read"):
        load_signatures(tmp_path / "nope.yaml")


def test_cli_exits_with_the_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_doc(category="tablets")))
    capture = tmp_path / "empty.jsonl"
    capture.write_text("")
    result = CliRunner().invoke(
        main, ["--replay", str(capture), "--signatures", str(bad), "--dry-run", "--no-progress"]
    )
    assert result.exit_code == 2
    assert str(bad) in result.output and "'bz_android_v2'" in result.output
    assert "'category'" in result.output
