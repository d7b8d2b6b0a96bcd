"""Estimation parameters: the YAML mirrors the defaults, bad files fail with key and file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.estimation.params import DEFAULT_PARAMS, ParamsError, load_params

ROOT = Path(__file__).resolve().parents[2]


def test_example_yaml_equals_builtin_defaults_with_sources() -> None:
    p = load_params(ROOT / "config" / "estimation.yaml")
    assert p == DEFAULT_PARAMS
    assert all(param.source for _, param in p.items())


def test_plain_number_takes_file_as_source(tmp_path: Path) -> None:
    f = tmp_path / "e.yaml"
    f.write_text("smartphone_share: 0.6\n", encoding="utf-8")
    p = load_params(f)
    assert p.smartphone_share.value == 0.6 and p.smartphone_share.source == str(f)
    assert p.ios_share.value == DEFAULT_PARAMS.ios_share.value


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("smartfone_share: 0.6\n", "unknown key 'smartfone_share'"),
        ("ios_share: 1.5\n", "out of range"),
        ("ios_share: 0\n", "must be > 0"),
        ("ios_share: {value: yes}\n", "must be a number"),
        ("- 1\n", "expected a mapping"),
        ("a: [\n", "not valid YAML"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "e.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ParamsError, match=needle.replace("[", r"\[")) as info:
        load_params(f)
    assert "e.yaml" in str(info.value) or needle == "unknown key"


def test_override_names_source_and_rejects_unknown() -> None:
    p = DEFAULT_PARAMS.override("sites.yaml: ptc-market-01", smartphone_share=0.5, ios_share=None)
    assert p.smartphone_share.source == "sites.yaml: ptc-market-01"
    assert p.ios_share == DEFAULT_PARAMS.ios_share
    with pytest.raises(ParamsError):
        DEFAULT_PARAMS.override("x", nonsense=1.0)
