"""The `bzscan` command line."""
