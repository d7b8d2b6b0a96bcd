"""The aggregator's error root: the CLI catches `AggregatorError` once and prints its message.

Subclasses carry structured fields where a caller branches on them, never only message text.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Something the user can fix; the message says what and how."""
