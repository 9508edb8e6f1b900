"""The sandbox's API reference: an OpenAPI 3 schema at ``docs/?format=openapi``.

bessa shows token holders an interactive reference at ``/v1/public/docs/``. Django REST Framework
sites usually serve the machine-readable schema beside it; the sandbox does so the way drf-yasg
does (``docs/?format=openapi``; plain ``docs/`` is an HTML page), so that ``bessa doctor`` can
compare a schema with the library's model. The schema is inferred from the served data (after
drift, when on): every field an item has, its JSON type, ``format`` (``uuid``, ``date-time``,
``decimal``), ``nullable``, and for ``type``/``status`` words the ``enum`` of the words seen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._cursor import Item
from ._drift import Drift
from ._query import parse_uuid

__all__ = ["DOCS_PATH", "JOB_STATUSES", "docs_page", "openapi"]

DOCS_PATH: Final = "docs/"
JOB_STATUSES: Final = ("pending", "processing", "completed", "failed", "expired", "cancelled")
_ENUM_FIELDS: Final = frozenset({"type", "status"})
_DECIMAL_RE: Final = re.compile(r"-?\d+\.\d+$")
_DATETIME_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_NO_DETAIL: Final = frozenset({"stock-levels"})
_JOBS: Final = ("requests/orders", "requests/payments")
_MAX_SAMPLES: Final = 200


def docs_page() -> str:
    """The HTML of ``docs/`` (the real one is an interactive reference)."""
    return (
        "<!DOCTYPE html><html><head><title>bessa Public API (sandbox)</title></head><body>"
        "<h1>bessa Public API (sandbox)</h1><p>The OpenAPI schema: "
        '<a href="?format=openapi">?format=openapi</a></p></body></html>'
    )


def _component(path: str) -> str:
    last = path.rstrip("/").rpartition("/")[2]
    words = last.split("-")
    words[-1] = words[-1][:-1] if words[-1].endswith("s") else words[-1]
    return "".join(word.capitalize() for word in words)


def _string_format(texts: list[str]) -> str | None:
    for name, test in (
        ("uuid", parse_uuid),
        ("date-time", _DATETIME_RE.match),
        ("decimal", _DECIMAL_RE.match),
    ):
        if all(test(text) for text in texts):
            return name
    return None


def _schema_of(values: Sequence[Any], name: str = "") -> dict[str, Any]:
    """The JSON schema that fits every one of ``values`` (those of one field)."""
    present = [value for value in values if value is not None]
    schema: dict[str, Any]
    if not present:
        schema = {}
    elif isinstance(present[0], bool):
        schema = {"type": "boolean"}
    elif isinstance(present[0], int):
        schema = {"type": "integer"}
    elif isinstance(present[0], float):  # pragma: no cover - the sandbox sends no floats
        schema = {"type": "number"}
    elif isinstance(present[0], str):
        schema = {"type": "string"}
        form = _string_format(present)
        if form is not None:
            schema["format"] = form
        elif name in _ENUM_FIELDS:
            schema["enum"] = sorted(set(present))
    elif isinstance(present[0], list):
        schema = {"type": "array", "items": _schema_of([x for value in present for x in value])}
    else:
        schema = _object_schema(present)
    if len(present) < len(values):
        schema["nullable"] = True
    return schema


def _object_schema(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    names: dict[str, None] = {}
    for item in items:
        names.update(dict.fromkeys(item))
    properties = {
        name: _schema_of([item[name] for item in items if name in item], name) for name in names
    }
    required = [name for name in names if all(name in item for item in items)]
    return {"type": "object", "properties": properties, "required": required}


def _job_schema(drift: Drift | None) -> dict[str, Any]:
    statuses = list(JOB_STATUSES)
    if drift is not None and drift.job_status is not None:
        statuses.append(drift.job_status)
    nullable_object = {"type": "object", "nullable": True, "additionalProperties": True}
    properties = {
        "id": {"type": "string", "format": "uuid"},
        "type": {"type": "string", "enum": ["order", "payment"]},
        "status": {"type": "string", "enum": statuses},
        "reference": {"type": "string", "maxLength": 100},
        "sales_point": {"type": "string", "format": "uuid"},
        "created": {"type": "string", "format": "date-time"},
        "updated": {"type": "string", "format": "date-time"},
        "result": nullable_object,
        "error": nullable_object,
    }
    return {"type": "object", "properties": properties, "required": list(properties)}


def _ok(ref: str, description: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}
    return {"200": {"description": description, "content": content}}


def _page_schema(component: str) -> dict[str, Any]:
    link = {"type": "string", "nullable": True}
    return {
        "type": "object",
        "required": ["results"],
        "properties": {
            "count": {"type": "integer"},
            "next": link,
            "previous": link,
            "results": {"type": "array", "items": {"$ref": f"#/components/schemas/{component}"}},
        },
    }


def openapi(
    collections: Mapping[str, Sequence[Item]],
    sales: Item,
    *,
    prefix: str,
    drift: Drift | None,
) -> dict[str, Any]:
    """The OpenAPI 3 document of the sandbox's API.

    Args:
        collections: each list resource's items (sandbox path without the slash).
        sales: one sales report, as ``reports/sales/`` answers.
        prefix: the API base path, e.g. ``"/v1/public/"``.
        drift: the differences to show (paths, fields and job words), or None.
    """
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    for resource, items in collections.items():
        served = resource if drift is None else drift.served_path(resource)
        name = _component(served)
        if resource in _JOBS:
            components[name] = _job_schema(drift)
        else:
            sample = list(items[:_MAX_SAMPLES])
            if drift is not None:
                sample = [drift.item(resource, item) for item in sample]
            components[name] = _object_schema(sample)
        components[f"Paginated{name}List"] = _page_schema(name)
        operations: dict[str, Any] = {
            "get": {
                "operationId": f"{served.replace('/', '_').replace('-', '_')}_list",
                "responses": _ok(f"Paginated{name}List", f"A page of {served}"),
            }
        }
        if resource in _JOBS:
            operations["post"] = {
                "operationId": f"{served.replace('/', '_')}_create",
                "responses": {"202": {"description": "The job, accepted"}},
            }
        paths[f"{prefix}{served}/"] = operations
        if resource not in _NO_DETAIL:
            paths[f"{prefix}{served}/{{id}}/"] = {
                "get": {
                    "operationId": f"{served.replace('/', '_').replace('-', '_')}_retrieve",
                    "responses": _ok(name, f"One of {served}"),
                }
            }
    components["SalesReport"] = _object_schema([sales])
    paths[f"{prefix}reports/sales/"] = {
        "get": {"operationId": "reports_sales", "responses": _ok("SalesReport", "The report")}
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "bessa Public API (sandbox)", "version": "1"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "tokenAuth": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
        },
        "security": [{"tokenAuth": []}],
    }
