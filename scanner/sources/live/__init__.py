"""Live adverts from a Bluetooth adapter through bleak and BlueZ."""
