"""The aggregator's error root: every error it raises on purpose derives from it."""

from __future__ import annotations


class AggregatorError(Exception):
    """Base of the aggregator's errors; the CLI turns them into a one-line message."""
