"""A fake BlueZ (`org.bluez`) on a private system bus, for running the unmodified bleak backend."""
