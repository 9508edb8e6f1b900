"""The resources' records and their conversion from and to JSON (the only cattrs user)."""
