"""The aggregator's store: a typed interface and its SQLite implementation (all SQL lives here)."""
