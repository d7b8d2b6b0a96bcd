"""bluezone-audit aggregator: subscribe, store windows idempotently, estimate adoption, report."""
