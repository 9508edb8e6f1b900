"""Orders and payments submitted as jobs the Sales Point processes later, and waiting for them.

- :mod:`.model`: the :class:`Job` and what its status words mean;
- :mod:`.submissions`: :class:`Order`, :class:`Payment` and their request bodies;
- :mod:`.handle`: :class:`JobHandle`, what a submission returns, and its token;
- :mod:`.scheduler`: the one poller per client, each job on its own backoff;
- :mod:`.manager`: submitting without duplicates, reading, reconciling by reference;
- :mod:`.resources`: ``client.orders``, ``client.payments`` and ``client.jobs``.
"""
