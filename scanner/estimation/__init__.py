"""Adoption estimators, intervals and their parameters.

Shared by node and aggregator; pure, stdlib only.
"""
