"""The `bzagg` command line."""
