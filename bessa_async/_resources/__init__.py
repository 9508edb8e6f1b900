"""The resources: one class per API collection, sending through the client."""
