"""A faithful, stateful fake of the bessa Public API for tests, demos and manual tries.

``Sandbox`` serves seeded tenants (two, or ``tenants=N``) over loopback, the way Django REST
Framework answers (see :mod:`bessa_async.testing._server`); ``Fault`` and ``Sandbox.inject``
make it misbehave on purpose; ``FakeClock`` gives a client (and the sandbox's Sales Points)
virtual time::

    from bessa_async import BessaClient
    from bessa_async.testing import Fault, Sandbox

    async with Sandbox() as sb, BessaClient(sb.token, base_url=sb.url) as client:
        sb.inject(Fault.status(503), path="articles/", times=1)
        page = await client.request("GET", "articles/")   # retried, then succeeds

``sb.fixtures`` holds typed handles on the well-known data (an online, an offline and an
inactive Sales Point, articles, tables, payment methods), and :mod:`bessa_async.testing.magic`
the references that make a job fail with a given code, take long or never finish.

The tenant can change while it is served, on the sandbox's clock: ``Sandbox.edit``,
``insert``, ``delete`` (soft with ``soft_deletes=True``) and ``upload_late``, with
``commit_lag``, ``server_offset``, ``updated_precision`` and an ``after_page`` hook between two
pages of a walk, to stage what a changes feed must survive.

``Sandbox(drift=True)`` answers the way a real API might differ from the library's model (see
:class:`Drift`), to try ``bessa doctor`` and your own tolerance against.

``Sandbox(control=True)`` also serves its controls over HTTP under ``/_sandbox/`` (loopback
only), as the standalone ``bessa sandbox`` does: see :mod:`bessa_async.testing._control`.

A pytest plugin (``bessa_sandbox``, ``bessa_client`` fixtures) is installed with the package.
"""

from __future__ import annotations

from ._clock import FakeClock
from ._drift import DEFAULT_DRIFT, Drift
from ._faults import Fault, FaultRule
from ._fixtures import Fixtures
from ._server import RecordedRequest, Sandbox, ServedPage

__all__ = [
    "DEFAULT_DRIFT",
    "Drift",
    "FakeClock",
    "Fault",
    "FaultRule",
    "Fixtures",
    "RecordedRequest",
    "Sandbox",
    "ServedPage",
]
