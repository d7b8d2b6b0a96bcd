"""The aggregator's error root: every error it raises on purpose derives from it."""


class AggregatorError(Exception):
    """Base of the aggregator's own errors."""
