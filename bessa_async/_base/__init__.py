"""The ground floor: pure rules without I/O (errors, configuration, checks, URLs, days)."""
