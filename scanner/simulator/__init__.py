"""Simulated sites with known truth, written as capture files (demo and benchmarks)."""
