"""Counting windows.

Per-window salted de-duplication and slot statistics, turned into window reports; pure.
"""
