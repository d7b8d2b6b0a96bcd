"""Shared test configuration. Fixture modules of each area are registered in `pytest_plugins`."""

from __future__ import annotations

import os

# Each area's fixtures live in their own module; add yours here once it exists.
pytest_plugins: list[str] = [
    "tests.fakebluez.fixtures",
    "tests.mosquitto",
    "tests.postgres",
    "tests.stores",
]

IN_CI = os.environ.get("CI", "").lower() == "true"
