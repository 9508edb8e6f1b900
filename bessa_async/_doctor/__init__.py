"""``await client.doctor()`` and ``bessa doctor``: where the live API differs from our model.

The library models the documented conventions plus inferred paths, fields and job states. The
doctor tells a token holder, in one run, where the API they reach differs:

- auth: whether the token is accepted, and the tenant's company names (never the token);
- every typed resource: reachable or not (200, 404, 403, ...), the page's shape (``count``
  present? ``next`` a bare cursor or a URL?), and one small page of items compared with the model
  field by field: fields the API sent that the model does not know, fields the model expects that
  were absent, values that do not decode (with their field path), type words the open enums do
  not know;
- filters: a ``timestamp__gte``/``updated__gte`` window written with a ``+02:00`` offset must
  select the item it was built around, and only items inside it;
- the OpenAPI schema, if one is served near ``docs/`` (the common DRF schema paths are tried;
  404 is quiet): paths and fields the library does not model, and a ``paths=`` suggestion for a
  resource that answered 404 when the schema has a path with a near name;
- jobs: ``GET requests/orders/?limit=1`` only, to see the list's shape and status words.

It only reads, one request at a time, two items per page (``limit=2``); the client's retry policy
honours 429 and ``Retry-After``. The pure part (:func:`inspect_items`, :func:`page_facts`,
:func:`schema_differences`) works on decoded JSON and is tested without a server; only
:func:`diagnose` sends requests.
"""

from ._items import inspect_items, page_facts
from ._report import (
    Difference,
    DoctorReport,
    FilterFinding,
    JobsFinding,
    ResourceFinding,
    SchemaFinding,
)
from ._run import JOB_PATHS, SCHEMA_PROBES, APIReader, diagnose
from ._schema import schema_differences
from ._table import doctor_table

__all__ = [
    "JOB_PATHS",
    "SCHEMA_PROBES",
    "APIReader",
    "Difference",
    "DoctorReport",
    "FilterFinding",
    "JobsFinding",
    "ResourceFinding",
    "SchemaFinding",
    "diagnose",
    "doctor_table",
    "inspect_items",
    "page_facts",
    "schema_differences",
]
