"""The wire contract between nodes and the aggregator.

Window reports, codec, topics, HMAC, broker addresses and durations; stdlib only.
"""
