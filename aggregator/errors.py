"""The aggregator's error root: the CLI catches `AggregatorError` once."""

from __future__ import annotations


class AggregatorError(Exception):
    """Anything the aggregator reports to its user as a failure of its own (not a bug)."""
