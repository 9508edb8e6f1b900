"""Drift mode: the sandbox as the real API might turn out to differ from the library's model.

The library's paths, fields and job states beyond the documented conventions are inferred.
``Sandbox(drift=True)`` serves the same data with the differences a first real token holder is
likely to meet, so that ``bessa doctor`` (and users' own tests) can be tried against them:

- a field renamed: a receipt's ``total`` is served as ``total_gross``;
- unknown fields added: ``allergens`` on articles, ``course`` on every receipt line;
- a path moved: ``tables/`` answers 404, the tables are served at ``table-plans/``;
- bare cursors instead of DRF's absolute URLs in ``next`` and ``previous``;
- a job status word outside the documented ones: one order job of tenant A, reference
  ``drift-queued``, waits in the state ``queued``;
- optionally (not in the default), job-list filters the API does not know and so ignores, as
  DRF does: ``Drift(ignored_filters={"status", "updated__gte"})`` answers those lists unfiltered.

Everything is applied to answers (and to the API schema at ``docs/?format=openapi``); the
sandbox's data, filters and job processing are unchanged underneath. A :class:`Drift` with other
values can be passed as ``Sandbox(drift=Drift(...))``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, final

import attrs

from ._cursor import Item

if TYPE_CHECKING:
    from aiohttp import web

    from ._jobbook import JobBook
    from ._tenant_data import TenantData

__all__ = ["DEFAULT_DRIFT", "DRIFT_JOB_REFERENCE", "Drift"]

DRIFT_JOB_REFERENCE: Final = "drift-queued"
"""The ``reference`` of the job drift mode leaves in its unknown status word."""


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(names)


@final
@attrs.frozen(kw_only=True)
class Drift:
    """How a drifted sandbox differs from the library's model.

    Resources are named by their sandbox path without the trailing slash (``"receipts"``,
    ``"reports/closings"``).

    Attributes:
        renamed: per resource, top-level fields served under another name (``{"total":
            "total_gross"}``).
        added: per resource, fields added to every item, by field path: ``"allergens"`` on the
            item, ``"lines[].course"`` on each element of its ``lines``.
        moved: resources served at another path; the old path answers 404.
        bare_cursors: ``next``/``previous`` as bare cursor strings instead of URLs.
        job_status: a status word outside the documented ones that one order job of tenant A keeps
            (reference :data:`DRIFT_JOB_REFERENCE`); None for none.
        ignored_filters: query parameters the jobs lists (``requests/orders/``,
            ``requests/payments/``) ignore, answering as if they were not sent.
        single_filters: query parameters of the jobs lists that take one value: of a repeated
            name the last one wins (django-filter's ``ChoiceFilter``, where the library sends
            ``status=pending&status=processing``).
    """

    renamed: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    added: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    moved: Mapping[str, str] = attrs.field(factory=dict)
    bare_cursors: bool = True
    job_status: str | None = None
    ignored_filters: frozenset[str] = attrs.field(default=frozenset(), converter=_names)
    single_filters: frozenset[str] = attrs.field(default=frozenset(), converter=_names)

    def job_query(self, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A jobs list's query as the drifted API reads it (ignored filters left out, one value
        of each single-valued filter: its last)."""
        kept = [(n, v) for n, v in query if n not in self.ignored_filters | self.single_filters]
        last = {n: v for n, v in query if n in self.single_filters - self.ignored_filters}
        return kept + list(last.items())

    def route(self, relative: str) -> str | None:
        """The path a request for ``relative`` is served as, or None when it moved away."""
        for old, new in self.moved.items():
            for path, served in ((old, None), (new, old)):
                if relative == path or relative.startswith(path + "/"):
                    return None if served is None else served + relative[len(path) :]
        return relative

    def served_path(self, resource: str) -> str:
        """Where ``resource`` is served (its own path unless it moved)."""
        return self.moved.get(resource, resource)

    def item(self, resource: str, item: Item) -> Item:
        """One item of ``resource`` as the drifted API shows it (a copy; the data is kept)."""
        renamed = self.renamed.get(resource, {})
        added = self.added.get(resource, {})
        if not renamed and not added:
            return item
        shown: Item = {renamed.get(key, key): value for key, value in item.items()}
        for field_path, value in added.items():
            steps = field_path.split(".")
            head = steps[0].removesuffix("[]")
            if len(steps) > 1 and head in shown:
                shown[head] = _copy(shown[head])  # copy on write: the data stays as it is
            _add(shown, steps, value)
        return shown

    def rewrite(self, relative: str, answer: web.Response) -> web.Response:
        """Apply the field changes to a successful JSON answer for the (served) path."""
        resource = self._resource_of(relative)
        if resource is None or answer.status != 200 or not isinstance(answer.body, bytes):
            return answer
        payload = json.loads(answer.body)
        if isinstance(payload, dict) and isinstance(payload.get("results"), list):
            payload["results"] = [self.item(resource, item) for item in payload["results"]]
        elif isinstance(payload, dict):
            payload = self.item(resource, payload)
        answer.text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return answer

    def seed(self, book: JobBook, data: TenantData) -> None:
        """Leave one order job of the tenant in :attr:`job_status` (if set)."""
        if self.job_status is None:
            return
        point = next(p for p in data.sales_points if p["status"] == "active")
        article = next(a for a in data.articles if a["active"] and a["type"] == "standard")
        body = {
            "sales_point": point["id"],
            "reference": DRIFT_JOB_REFERENCE,
            "lines": [{"article": article["id"], "quantity": "1"}],
        }
        errors = book.validate("order", body)
        if errors:  # pragma: no cover - the generated data always has an active till and article
            raise RuntimeError(f"drift: the seeded order is invalid: {errors}")
        job, _ = book.submit("order", body, None)
        book.set_status(job, self.job_status)

    def _resource_of(self, relative: str) -> str | None:
        trimmed = relative.rstrip("/")
        for resource in (*self.renamed, *self.added):
            if trimmed == resource or trimmed.startswith(resource + "/"):
                return resource
        return None


def _copy(value: Any) -> Any:
    """A copy of decoded JSON (much cheaper than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _add(target: Any, steps: list[str], value: Any) -> None:
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        for element in target.get(step[:-2]) or ():
            if isinstance(element, dict):
                _add(element, rest, value)
    elif rest:
        if isinstance(target.get(step), dict):
            _add(target[step], rest, value)
    else:
        target[step] = _copy(value)


DEFAULT_DRIFT: Final = Drift(
    renamed={"receipts": {"total": "total_gross"}},
    added={"articles": {"allergens": ["A", "G"]}, "receipts": {"lines[].course": 1}},
    moved={"tables": "table-plans"},
    bare_cursors=True,
    job_status="queued",
)
"""The differences of ``Sandbox(drift=True)`` (see the module docstring)."""
