"""Windows in: MQTT subscription, validation verdicts, outbox import, the embedded broker."""
