"""Files that shape the numbers: named files must exist, defaults come from the package."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from aggregator.cli.main import main
from scanner.clikit.config import search_path
from scanner.estimation.params import DEFAULT_PARAMS, load_params

ROOT = Path(__file__).resolve().parents[2]


def test_named_registry_or_params_that_do_not_exist_exit_2_naming_the_path(
    seeded_db: Path, tmp_path: Path
) -> None:
    for opt in ("--sites-file", "--params"):
        missing = tmp_path / f"no-such{opt.replace('-', '_')}.yaml"
        res = CliRunner().invoke(main, ["report", "--db", str(seeded_db), opt, str(missing)])
        assert res.exit_code == 2, res.output
        assert str(missing) in res.output and opt in res.output


def test_named_config_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "aggregator.yaml"
    res = CliRunner().invoke(main, ["--config", str(missing), "nodes"])
    assert res.exit_code == 2 and str(missing) in res.output


def test_report_says_which_files_it_used(seeded_db: Path) -> None:
    res = CliRunner().invoke(main, ["report", "--db", str(seeded_db)])
    assert res.exit_code == 0, res.output
    assert "site registry none; estimation parameters packaged defaults" in res.stderr


def test_config_search_path_is_xdg_then_etc_never_the_working_directory() -> None:
    got = search_path("aggregator", {"XDG_CONFIG_HOME": "/x", "HOME": "/h"})
    assert got == [
        Path("/x/bluezone-audit/aggregator.yaml"),
        Path("/etc/bluezone-audit/aggregator.yaml"),
    ]
    assert search_path("scanner", {"HOME": "/h"})[0] == Path(
        "/h/.config/bluezone-audit/scanner.yaml"
    )


def test_config_examples_equal_the_packaged_defaults() -> None:
    pairs = [
        ("config/estimation.yaml", "scanner/estimation/estimation.yaml"),
        ("config/signatures.yaml", "scanner/ble/signatures.yaml"),
        ("config/sites.yaml", "aggregator/sites-example.yaml"),
        *(
            (f"config/scenarios/{p.name}", f"scanner/simulator/scenarios/{p.name}")
            for p in (ROOT / "scanner/simulator/scenarios").glob("*.yaml")
        ),
    ]
    for example, packaged in pairs:
        assert (ROOT / example).read_bytes() == (ROOT / packaged).read_bytes(), example
    assert load_params(ROOT / "scanner/estimation/estimation.yaml") == DEFAULT_PARAMS
    assert not [p for p in ROOT.rglob("*") if p.is_symlink() and ".venv" not in p.parts]
