"""The `bessa` command: a thin shell over the public API."""
