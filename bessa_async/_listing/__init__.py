"""Listings that know no client: cursor chains, time shards, the changes feed and their tokens."""
