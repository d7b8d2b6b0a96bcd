"""A shortened soak: 5 nodes, a compressed day of 1.2 s hours, every fault of bench/soak.py."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.soak import DEFAULT_FAULTS, Soak, report

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]


def test_shortened_soak_loses_nothing(tmp_path: Path) -> None:
    args = argparse.Namespace(
        nodes=5, hour_s=1.2, dir=str(tmp_path / "soak"), faults=DEFAULT_FAULTS, resend_s=1.0,
        drain_s=30.0,
    )  # fmt: skip
    r = Soak(args).run()
    text = report(r)
    # expected / stored / duplicated / conflicted / rejected
    assert (r["expected"], r["stored"], r["lost"], r["duplicated"], r["conflicted"]) == (
        5 * 1440, 5 * 1440, 0, 0, 0,
    ), text  # fmt: skip
    assert r["counts_differ"] == 0, text
    assert r["malformed_sent"] == 100 and sum(r["rejected"].values()) == 100, text
    assert len(r["faults"]) == len(DEFAULT_FAULTS.split(",")), text
