"""bluezone-audit scanner node: recognise Bluezone and phones over BLE, count, publish counts."""

__version__ = "0.1.0"
