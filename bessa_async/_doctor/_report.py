"""The doctor's report: frozen values, JSON-ready, nothing here sends a request."""

from __future__ import annotations

import json
from typing import Any, Literal, final

import attrs

__all__ = [
    "Difference",
    "DifferenceKind",
    "DoctorReport",
    "FilterFinding",
    "JobsFinding",
    "NextForm",
    "ResourceFinding",
    "SchemaFinding",
]


DifferenceKind = Literal[
    "path",
    "page",
    "next_form",
    "unknown_field",
    "missing_field",
    "bad_value",
    "unknown_word",
    "filter",
    "schema_path",
    "schema_field",
]
NextForm = Literal["url", "cursor"]


@final
@attrs.frozen(kw_only=True)
class Difference:
    """One way the API differs from the library's model.

    Attributes:
        kind: ``path`` (not 200), ``page`` (page shape), ``next_form``, ``unknown_field``,
            ``missing_field``, ``bad_value``, ``unknown_word``, ``filter``, ``schema_path`` or
            ``schema_field``.
        resource: the typed resource (``"receipts"``), ``"jobs"``, ``"pages"`` (all lists) or
            ``"schema"``.
        detail: one sentence for a human.
        field: the field path (``"lines[].course"``), where there is one.
        value: the offending value, word, status or path, as text.
        handled: whether the library already copes (e.g. unknown fields are kept in ``extra``);
            False when reading fails or gives wrong answers until something is changed.
        fix: what to do now, e.g. ``paths={"tables": "table-plans/"}``.
    """

    kind: DifferenceKind
    resource: str
    detail: str
    field: str | None = None
    value: str | None = None
    handled: bool = False
    fix: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None, str | None]:
        """What makes two findings the same difference (a schema field seen in items, too)."""
        kind = "unknown_field" if self.kind == "schema_field" else self.kind
        value = self.value if self.kind in ("unknown_word", "schema_path") else None
        return kind, self.resource, self.field, value


@final
@attrs.frozen(kw_only=True)
class ResourceFinding:
    """What one typed resource looked like.

    Attributes:
        name: the resource's name in ``paths=`` (``"receipts"``, ``"sales_report"``).
        path: the path asked.
        status: the answer's status, None when no answer came.
        shape: ``"page"`` for lists, ``"object"`` for the sales report.
        count: whether the page carried an integer ``count`` (None: no page).
        next_form: ``"url"`` or ``"cursor"``, None when ``next`` was null or there was no page.
        items: items compared with the model.
        differences: this resource's differences (also in :attr:`DoctorReport.differences`).
    """

    name: str
    path: str
    status: int | None
    shape: Literal["page", "object"] = "page"
    count: bool | None = None
    next_form: NextForm | None = None
    items: int = 0
    differences: tuple[Difference, ...] = ()


@final
@attrs.frozen(kw_only=True)
class FilterFinding:
    """A time filter sent with a ``+02:00`` offset, and whether the answer's window matched.

    Attributes:
        resource: the resource filtered.
        filter: ``"timestamp"`` or ``"updated"`` (``__gte`` and ``__lt`` were sent).
        sent: the ``__gte`` instant as sent, e.g. ``"2026-06-01T10:54:00+02:00"``.
        ok: True when the answer held the item the window was built around and only items
            inside the window; None when not checked.
        items: items in the answer.
        detail: one sentence for a human.
    """

    resource: str
    filter: str
    sent: str | None
    ok: bool | None
    items: int = 0
    detail: str = ""


@final
@attrs.frozen(kw_only=True)
class SchemaFinding:
    """The OpenAPI schema, if the API serves one.

    Attributes:
        found_at: the path (and query) it was found at, None when none was found.
        tried: every path tried, in order.
        paths: the list paths the schema names, relative to the base URL.
    """

    found_at: str | None
    tried: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


@final
@attrs.frozen(kw_only=True)
class JobsFinding:
    """The job list (``GET requests/orders/?limit=1``; nothing is ever submitted).

    Attributes:
        path: the path asked.
        status: the answer's status, None when no answer came.
        count: whether the page carried an integer ``count``.
        next_form: ``"url"`` or ``"cursor"``, None when ``next`` was null.
        statuses: the status words seen.
        filters: each job-list filter (``status``, ``updated__gte``, ``sales_point``,
            ``reference``) with whether the API honours it: True, False (it answered items the
            filter excludes: the library falls back), or None (the jobs listed cannot tell).
    """

    path: str
    status: int | None
    count: bool | None = None
    next_form: NextForm | None = None
    statuses: tuple[str, ...] = ()
    filters: tuple[tuple[str, bool | None], ...] = ()


@final
@attrs.frozen(kw_only=True)
class DoctorReport:
    """What ``client.doctor()`` found: read it, fix with ``paths=``/``BESSA_PATHS``, report it.

    Attributes:
        base_url: the API root checked.
        version: the bessa_async version that checked it.
        token_accepted: whether an answer showed the API accepted the token (it is never
            shown); False too when every answer was a 429, a server error or none.
        companies: the tenant's company names (first page), to confirm the token's tenant.
        resources: one finding per typed resource, in the order checked.
        filters: the time-filter checks.
        schema: the OpenAPI schema probe.
        jobs: the job list check, None when not reached.
        differences: every difference found, most important first.
        notes: facts that are not differences (a resource the token may not read, ...).
        errors: what could not be checked (token refused, unreachable, server errors).
    """

    base_url: str
    version: str
    token_accepted: bool
    companies: tuple[str, ...] = ()
    resources: tuple[ResourceFinding, ...] = ()
    filters: tuple[FilterFinding, ...] = ()
    schema: SchemaFinding = SchemaFinding(found_at=None)
    jobs: JobsFinding | None = None
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Everything was checked and matched the library's model."""
        return not self.differences and not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (for ``bessa doctor --json`` and bug reports)."""
        data: dict[str, Any] = json.loads(json.dumps(attrs.asdict(self)))  # tuples as lists
        data["ok"] = self.ok
        return data
