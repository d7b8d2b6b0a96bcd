"""Bluetooth LE recognition.

AD parsing, signatures, classification and passive-scan patterns; pure.
"""
