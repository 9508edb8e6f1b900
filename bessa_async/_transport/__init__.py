"""The one route to the network: the sender, the wire exchange, retries and the token."""
